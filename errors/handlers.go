package errors

import (
	"net/http"
	"strings"
)

// NotFound answers every request with not_found (404) in the request's
// format, so a path the API does not serve is answered like every other
// error. Register it as a ServeMux's catch-all:
//
//	mux.Handle("/", errors.NotFound)
var NotFound http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	Write(w, r, errNotFound)
})

var (
	errNotFound    = New(ResourceNotFound, "")
	errWrongMethod = New(WrongMethod, "")
)

// MethodNotAllowed returns a handler that answers every request with
// method_not_allowed (405) in the request's format, and an Allow header
// listing methods, as RFC 9110 §15.5.6 requires of a 405 (empty when none
// are given: the resource answers no method). Register it beside a path's
// method patterns; a ServeMux prefers them, so it gets only the others:
//
//	mux.Handle("GET /orders/{id}", getOrder)
//	mux.Handle("/orders/{id}", errors.MethodNotAllowed("GET", "HEAD"))
//
// It panics at start-up if a method is not an HTTP token.
func MethodNotAllowed(methods ...string) http.Handler {
	for _, m := range methods {
		if !isToken(m) {
			panic("errors.MethodNotAllowed: " + quoteEscape(m) + " is not an HTTP method")
		}
	}
	allow := strings.Join(methods, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		Write(w, r, errWrongMethod)
	})
}

// isToken reports whether s is an RFC 9110 §5.6.2 token, as a method is.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
