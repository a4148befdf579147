package middleware_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/scopes"
)

// One issuer signs merchant and customer tokens, told apart by a claim; a
// refund route takes merchants with the can_refund_order permission only.
func Example() {
	idp, err := authtest.NewLocalIssuer()
	if err != nil {
		panic(err)
	}
	defer idp.Close()
	tokens, err := jwt.NewVerifier(context.Background(), jwt.Config{
		Issuers: []jwt.Issuer{{
			Issuer:     idp.URL(),
			JWKSURL:    idp.JWKSURL(),
			Audiences:  []string{"orders-api"},
			Algorithms: []string{"RS256"},
			TypeClaim:  "token_use",
			TypeValues: map[string]string{"merchant": "merchant", "customer": "customer"},
		}},
	})
	if err != nil {
		panic(err)
	}
	defer tokens.Close()

	refund := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := principal.From(r.Context())
		fmt.Fprintf(w, "refunded by %s", p.Subject())
	})
	mux := http.NewServeMux()
	mux.Handle("POST /orders/{id}/refund", middleware.Chain(
		middleware.RequireType("merchant"),
		scopes.Require("can_refund_order"),
	)(refund))
	api := middleware.Chain(
		tgerrors.Use(tgerrors.OAuth),
		middleware.Authenticate(tokens, middleware.OnRefusal(nil)),
	)(mux)

	mint := func(use, permissions string) string {
		return idp.Mint(map[string]any{"sub": use + "-1", "aud": "orders-api", "token_use": use, "permissions": permissions})
	}
	for _, token := range []string{
		mint("merchant", "can_read_order can_refund_order"),
		mint("merchant", "can_read_order"),
		mint("customer", "can_refund_order"),
		"",
	} {
		req := httptest.NewRequest("POST", "/orders/1/refund", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		fmt.Println(strings.TrimSpace(fmt.Sprint(rec.Code, " ", rec.Header().Get("WWW-Authenticate"))))
	}
	// Output:
	// 200
	// 403 Bearer realm="api", error="insufficient_scope", error_description="The access token does not grant the required scope", scope="can_refund_order"
	// 403
	// 401 Bearer realm="api"
}
