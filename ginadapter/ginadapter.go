// Package ginadapter runs tollgate's middlewares in a gin engine.
//
// gin has no wrapper for net/http middleware, and the obvious hand-written
// one forgets to abort: the middleware writes its 401 and returns without
// calling next, gin goes on to the next handler, and the route runs after
// the refusal. Wrap gets that right: the gin chain continues only from
// inside the middleware's next handler, with the request the middleware
// passed (its context carries the principal), and a middleware that does
// not call next aborts the chain.
//
//	r := gin.New()
//	r.Use(ginadapter.Wrap(tgerrors.Use(tgerrors.OAuth)))
//	r.Use(ginadapter.Wrap(middleware.Authenticate(verifier)))
//	r.GET("/orders/:id", ginadapter.Wrap(scopes.Require("can_read_order")), func(c *gin.Context) {
//		p, _ := ginadapter.Principal(c)
//		c.String(200, "order %s for %s", c.Param("id"), p.Subject())
//	})
//
// Each Wrap is one tollgate layer, so the layers can be used per group or per
// route as gin's own middleware are. Wrapping a whole middleware.Chain in one
// Wrap works too.
//
// It lives in a module of its own so that tollgate's users who do not use
// gin never download it.
package ginadapter

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/tollgate/tollgate/principal"
)

// Wrap turns a net/http middleware into a gin.HandlerFunc that aborts the
// gin chain when the middleware does not call its next handler, and
// otherwise runs the rest of the chain inside it, with the request and the
// response writer it passed.
func Wrap(mw func(http.Handler) http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		reached := false
		orig := c.Writer
		h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reached = true
			c.Request = r
			if w != http.ResponseWriter(orig) {
				c.Writer = &writer{ResponseWriter: orig, w: w}
			}
			c.Next()
			c.Writer = orig
		}))
		h.ServeHTTP(orig, c.Request)
		if !reached {
			c.Abort()
		}
	}
}

// Principal returns the caller a tollgate layer admitted, if any.
func Principal(c *gin.Context) (*principal.Principal, bool) {
	return principal.From(c.Request.Context())
}

// writer is gin's writer with the HTTP methods of the writer a middleware
// passed on (one that sets headers when the status is written, say). That
// writer writes through gin's, so gin's status and size stay right.
type writer struct {
	gin.ResponseWriter
	w http.ResponseWriter
}

func (w *writer) Header() http.Header               { return w.w.Header() }
func (w *writer) Write(b []byte) (int, error)       { return w.w.Write(b) }
func (w *writer) WriteHeader(code int)              { w.w.WriteHeader(code) }
func (w *writer) WriteString(s string) (int, error) { return w.w.Write([]byte(s)) }
func (w *writer) Unwrap() http.ResponseWriter       { return w.w }
