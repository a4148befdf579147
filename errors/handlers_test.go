package errors_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	tgerrors "github.com/tollgate/tollgate/errors"
)

// A router's fallbacks answer in the API's format: a route that does not
// exist is 404, a method a route does not answer 405 with Allow.
func TestNotFoundAndMethodNotAllowedAnswerInTheRequestsFormat(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("GET /orders/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("order")) }))
	mux.Handle("DELETE /orders/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	mux.Handle("/orders/{id}", tgerrors.MethodNotAllowed("GET", "HEAD", "DELETE"))
	mux.Handle("/batch", tgerrors.MethodNotAllowed())
	mux.Handle("/", tgerrors.NotFound)

	tests := []struct {
		method, path string
		format       tgerrors.Format
		status       int
		allow        []string // nil: no Allow header
		body         string
	}{
		{"GET", "/nothing", tgerrors.Envelope, 404, nil, `{"error":{"name":"NotFoundError","code":"NOT_FOUND","message":"The resource does not exist"}}` + "\n"},
		{"PUT", "/orders/1", tgerrors.Envelope, 405, []string{"GET, HEAD, DELETE"}, `{"error":{"name":"MethodNotAllowedError","code":"METHOD_NOT_ALLOWED","message":"The resource does not answer this method"}}` + "\n"},
		{"POST", "/batch", tgerrors.Envelope, 405, []string{""}, `{"error":{"name":"MethodNotAllowedError","code":"METHOD_NOT_ALLOWED","message":"The resource does not answer this method"}}` + "\n"},
		{"GET", "/nothing", tgerrors.Problem, 404, nil, `{"type":"about:blank","title":"Not Found","status":404,"detail":"The resource does not exist","code":"not_found"}` + "\n"},
		{"PATCH", "/orders/1", tgerrors.Message, 405, []string{"GET, HEAD, DELETE"}, `{"message":"Method Not Allowed"}` + "\n"},
		{"GET", "/nothing", tgerrors.OAuth, 404, nil, `{"error":"not_found","error_description":"The resource does not exist"}` + "\n"},
		{"GET", "/orders/1", tgerrors.Envelope, 200, nil, "order"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tgerrors.Use(tt.format)(mux).ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.status || rec.Body.String() != tt.body {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body, tt.status, tt.body)
			}
			if got := rec.Header()["Allow"]; len(got) != len(tt.allow) || len(got) > 0 && got[0] != tt.allow[0] {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
			if tt.status >= 400 {
				if got := rec.Header().Get("Cache-Control"); got != "no-store" {
					t.Errorf("Cache-Control %q, want no-store", got)
				}
				if got := rec.Header().Get("WWW-Authenticate"); got != "" {
					t.Errorf("a %d carries a challenge %q", tt.status, got)
				}
			}
		})
	}
}

func TestMethodNotAllowedRefusesAMethodThatIsNotAToken(t *testing.T) {
	for _, m := range []string{"", "GET POST", "GET,POST", "G\r\nX: y"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("MethodNotAllowed(%q) did not panic", m)
				}
			}()
			tgerrors.MethodNotAllowed("GET", m)
		}()
	}
}
