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

// A ServeMux's fallbacks answer in the API's format too: NotFound for paths
// it does not serve, MethodNotAllowed beside a path's method patterns.
func ExampleNotFound() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "order") })
	mux.Handle("/orders/{id}", tgerrors.MethodNotAllowed("GET", "HEAD"))
	mux.Handle("/", tgerrors.NotFound)
	api := tgerrors.Use(tgerrors.Envelope)(mux)

	for _, req := range []*http.Request{
		httptest.NewRequest("GET", "/invoices", nil),
		httptest.NewRequest("DELETE", "/orders/1", nil),
	} {
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Header().Get("Allow"), " ", rec.Body.String())
	}
	// Output:
	// 404  {"error":{"name":"NotFoundError","code":"NOT_FOUND","message":"The resource does not exist"}}
	// 405 GET, HEAD {"error":{"name":"MethodNotAllowedError","code":"METHOD_NOT_ALLOWED","message":"The resource does not answer this method"}}
}
