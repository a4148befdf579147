// Package demotest holds what the examples' tests share: a record of the
// handlers each request reached, so that a test can show a refused request
// reached none.
package demotest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// Reached records which handlers requests reached, in order. The zero
// value records nothing yet; it is safe for concurrent use.
type Reached struct {
	mu    sync.Mutex
	names []string
}

// Count returns h, recording name each time a request reaches it.
func (r *Reached) Count(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.names = append(r.names, name)
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	})
}

// Serve forgets what was reached before, serves one request (method,
// path, header and body) on h, and returns what the client saw and the
// names of the handlers the request reached, joined by commas ("" for
// none).
func (r *Reached) Serve(h http.Handler, method, path string, header http.Header, body string) (*httptest.ResponseRecorder, string) {
	r.mu.Lock()
	r.names = nil
	r.mu.Unlock()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	r.mu.Lock()
	defer r.mu.Unlock()
	return w, strings.Join(r.names, ",")
}
