package ginadapter_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/ginadapter"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/scopes"
)

func init() { gin.SetMode(gin.TestMode) }

var verifier = middleware.VerifierFunc(func(_ context.Context, token string) (*principal.Principal, error) {
	switch token {
	case "reader":
		return principal.New(principal.Fields{Subject: "m1", Scopes: []string{"can_read_order"}}), nil
	case "nobody":
		return principal.New(principal.Fields{Subject: "m2"}), nil
	}
	return nil, tgerrors.New(tgerrors.InvalidToken, "")
})

// engine is a gin API guarded by tollgate, recording which handlers ran.
func engine(ran *[]string, opts ...middleware.Option) *gin.Engine {
	r := gin.New()
	r.Use(ginadapter.Wrap(tgerrors.Use(tgerrors.OAuth)))
	r.Use(ginadapter.Wrap(middleware.Authenticate(verifier, append(opts, middleware.OnRefusal(nil))...)))
	r.Use(ginadapter.Wrap(ratelimit.New(ratelimit.Config{Limits: []ratelimit.Limit{{Events: 10, Per: time.Minute}}})))
	r.Use(func(c *gin.Context) { *ran = append(*ran, "gin middleware"); c.Next() })
	r.GET("/orders/:id", ginadapter.Wrap(scopes.Require("can_read_order")), func(c *gin.Context) {
		*ran = append(*ran, "handler")
		p, ok := ginadapter.Principal(c)
		if !ok {
			c.String(500, "no principal")
			return
		}
		c.Header("Cache-Control", "public, max-age=60")
		c.String(200, "order %s for %s", c.Param("id"), p.Subject())
	})
	return r
}

func TestGinRoutesRunOnlyForAdmittedRequests(t *testing.T) {
	cases := []struct {
		name      string
		target    string
		auth      string
		status    int
		ran       string
		challenge string
	}{
		{"no token", "/orders/7", "", 401, "", `Bearer realm="api"`},
		{"a bad token", "/orders/7", "Bearer forged", 401, "", `error="invalid_token"`},
		{"a token without the scope", "/orders/7", "Bearer nobody", 403, "gin middleware", `error="insufficient_scope"`},
		{"a token with the scope", "/orders/7", "Bearer reader", 200, "gin middleware,handler", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ran []string
			req := httptest.NewRequest("GET", c.target, nil)
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			rec := httptest.NewRecorder()
			engine(&ran).ServeHTTP(rec, req)
			if rec.Code != c.status || strings.Join(ran, ",") != c.ran {
				t.Fatalf("status %d ran %v, want %d %q; body %s", rec.Code, ran, c.status, c.ran, rec.Body)
			}
			if ch := rec.Header().Get("WWW-Authenticate"); !strings.Contains(ch, c.challenge) || (c.challenge == "") != (ch == "") {
				t.Fatalf("challenge %q, want %q", ch, c.challenge)
			}
			if c.status == 200 {
				if rec.Body.String() != "order 7 for m1" {
					t.Fatalf("body %q", rec.Body)
				}
				if rec.Header().Get("X-RateLimit-Limit") == "" {
					t.Fatalf("the rate-limit layer's headers are missing: %v", rec.Header())
				}
			}
		})
	}
}

// A middleware that wraps the response writer (Authenticate does for a token
// from the query) still sees what the gin handler writes.
func TestAWriterWrappedByAMiddlewareSeesTheGinHandlersResponse(t *testing.T) {
	var ran []string
	rec := httptest.NewRecorder()
	engine(&ran, middleware.FromQuery("access_token")).ServeHTTP(rec, httptest.NewRequest("GET", "/orders/7?access_token=reader", nil))
	if rec.Code != 200 || rec.Body.String() != "order 7 for m1" {
		t.Fatalf("status %d body %q", rec.Code, rec.Body)
	}
	if cc := rec.Header().Get("Cache-Control"); strings.Contains(cc, "public") || !strings.Contains(cc, "private") {
		t.Fatalf("Cache-Control %q: a query token's response must stay private", cc)
	}
}

// What a hand-written wrapper that forgets c.Abort() does: the route runs
// after the 401. Wrap does not.
func TestANaiveWrapperRunsTheRouteAfterARefusalAndWrapDoesNot(t *testing.T) {
	naive := func(mw func(http.Handler) http.Handler) gin.HandlerFunc {
		return func(c *gin.Context) {
			mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.Request = r })).ServeHTTP(c.Writer, c.Request)
		}
	}
	for name, wrap := range map[string]func(func(http.Handler) http.Handler) gin.HandlerFunc{"naive": naive, "Wrap": ginadapter.Wrap} {
		reached := false
		r := gin.New()
		r.Use(wrap(middleware.Authenticate(verifier, middleware.OnRefusal(nil))))
		r.GET("/", func(c *gin.Context) { reached = true })
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if want := name == "naive"; reached != want || rec.Code != 401 {
			t.Fatalf("%s: reached %v status %d", name, reached, rec.Code)
		}
	}
}
