package errors_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	tgerrors "github.com/tollgate/tollgate/errors"
)

// The format is chosen once, at the top of the chain; every layer below it,
// and the application's own handlers, write refusals through it.
func Example() {
	orders := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Organization-Id") == "" {
			tgerrors.Write(w, r, tgerrors.New(tgerrors.Validation, "X-Organization-Id is required"))
			return
		}
		fmt.Fprintln(w, "ok")
	})
	api := tgerrors.Use(tgerrors.Envelope)(orders)

	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest("GET", "/orders", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output: 400 {"error":{"name":"ValidationException","code":"VALIDATION_FAILURE","message":"X-Organization-Id is required"}}
}
