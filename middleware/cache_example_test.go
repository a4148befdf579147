package middleware_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/scopes"
)

// A verifier of the application's own adds roles from its database to the
// principal of another verifier (here a stand-in for jwt.Verifier); Cache
// keeps the result, so a repeated token reaches neither again.
func ExampleCache() {
	tokens := middleware.VerifierFunc(func(ctx context.Context, token string) (*principal.Principal, error) {
		if token != "tok-merchant-42" {
			return nil, tgerrors.New(tgerrors.InvalidToken, "")
		}
		return principal.New(principal.Fields{Subject: "merchant-42"}), nil
	})
	rolesDB := map[string][]string{"merchant-42": {"refunder"}}
	lookups := 0
	withRoles := middleware.VerifierFunc(func(ctx context.Context, token string) (*principal.Principal, error) {
		p, err := tokens.Verify(ctx, token)
		if err != nil {
			return nil, err
		}
		lookups++
		f := p.Fields()
		f.Roles = rolesDB[p.Subject()]
		return principal.New(f), nil
	})

	refund := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "refunded") })
	api := tgerrors.Use(tgerrors.OAuth)(middleware.Authenticate(middleware.Cache(withRoles, middleware.CacheConfig{}))(
		scopes.RequireRole("refunder")(refund)))
	for range 3 {
		req := httptest.NewRequest("POST", "/refunds", nil)
		req.Header.Set("Authorization", "Bearer tok-merchant-42")
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Body)
	}
	fmt.Println("database lookups:", lookups)
	// Output:
	// 200 refunded
	// 200 refunded
	// 200 refunded
	// database lookups: 1
}
