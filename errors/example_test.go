package errors_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

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

type createOrder struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// Validate is called by DecodeJSON once the body is decoded.
func (c *createOrder) Validate() error {
	if c.Qty < 1 {
		return tgerrors.New(tgerrors.Validation, "qty must be at least 1")
	}
	return nil
}

// DecodeJSON answers every way a body can be wrong in the API's format, so
// a handler has one line for it.
func ExampleDecodeJSON() {
	create := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body createOrder
		if err := tgerrors.DecodeJSON(w, r, &body, 16<<10); err != nil {
			return // already answered
		}
		fmt.Fprintf(w, "%d x %s\n", body.Qty, body.SKU)
	})
	api := tgerrors.Use(tgerrors.Envelope)(create)

	for _, body := range []string{
		`{"sku":"a-1","qty":2}`,
		`{"sku":"a-1","qty":"two"}`,
		`{"sku":"a-1","qty":0}`,
		`{"sku":"a-1","admin":true}`,
		`sku=a-1`,
	} {
		req := httptest.NewRequest("POST", "/orders", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	// Output:
	// 200 2 x a-1
	// 400 {"error":{"name":"ValidationException","code":"VALIDATION_FAILURE","message":"The field \"qty\" has the wrong type"}}
	// 400 {"error":{"name":"ValidationException","code":"VALIDATION_FAILURE","message":"qty must be at least 1"}}
	// 400 {"error":{"name":"ValidationException","code":"VALIDATION_FAILURE","message":"The request body has a field this API does not accept"}}
	// 400 {"error":{"name":"SyntaxError","code":"SYNTAX_ERROR","message":"The request body is not valid JSON"}}
}
