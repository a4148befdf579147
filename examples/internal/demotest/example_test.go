package demotest_test

import (
	"fmt"
	"net/http"

	"github.com/tollgate/tollgate/examples/internal/demotest"
)

func ExampleReached() {
	var reached demotest.Reached
	hello := reached.Count("hello", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "hello")
	}))
	mux := http.NewServeMux()
	mux.Handle("GET /hello", hello)

	w, names := reached.Serve(mux, "GET", "/hello", nil, "")
	fmt.Printf("%d %s, reached %q\n", w.Code, w.Body, names)
	w, names = reached.Serve(mux, "POST", "/hello", nil, "")
	fmt.Printf("%d, reached %q\n", w.Code, names)
	// Output:
	// 200 hello, reached "hello"
	// 405, reached ""
}
