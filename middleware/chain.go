package middleware

import "net/http"

// Chain composes middlewares into one: Chain(a, b, c)(h) is a(b(c(h))), so a
// request passes a first. Chain() returns a middleware that changes nothing.
func Chain(mws ...func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		for i := len(mws) - 1; i >= 0; i-- {
			h = mws[i](h)
		}
		return h
	}
}
