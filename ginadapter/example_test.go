package ginadapter_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/gin-gonic/gin"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/ginadapter"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/scopes"
)

// A gin engine guarded by tollgate: a request without a token gets the
// RFC 6750 401 and never reaches the route.
func Example() {
	gin.SetMode(gin.ReleaseMode)
	tokens := middleware.VerifierFunc(func(_ context.Context, token string) (*principal.Principal, error) {
		if token == "good" {
			return principal.New(principal.Fields{Subject: "m1", Scopes: []string{"can_read_order"}}), nil
		}
		return nil, tgerrors.New(tgerrors.InvalidToken, "")
	})

	r := gin.New()
	r.Use(ginadapter.Wrap(tgerrors.Use(tgerrors.OAuth)))
	r.Use(ginadapter.Wrap(middleware.Authenticate(tokens, middleware.OnRefusal(nil))))
	r.GET("/orders/:id", ginadapter.Wrap(scopes.Require("can_read_order")), func(c *gin.Context) {
		p, _ := ginadapter.Principal(c)
		c.String(200, "order %s for %s", c.Param("id"), p.Subject())
	})

	for _, auth := range []string{"", "Bearer good"} {
		req := httptest.NewRequest("GET", "/orders/7", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		fmt.Printf("%d %q %s\n", rec.Code, rec.Header().Get("WWW-Authenticate"), strings.TrimSpace(rec.Body.String()))
	}
	// Output:
	// 401 "Bearer realm=\"api\"" {"error":"missing_token","error_description":"Authentication is required"}
	// 200 "" order 7 for m1
}
