package apikey_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/tollgate/tollgate/apikey"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/scopes"
)

func Example() {
	ctx := context.Background()
	peppers, err := apikey.ParsePeppers("p1:" + strings.Repeat("A", 43)) // from configuration, not code
	if err != nil {
		log.Fatal(err)
	}
	keys, err := apikey.New(apikey.Config{
		Store:    apikey.NewMemoryStore(), // pgstore.New(pool) in production
		Peppers:  peppers,
		Prefixes: []apikey.Prefix{{Name: "mt_live", Type: "merchant"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()

	// The portal creates a key and shows its token once.
	key, secret, err := keys.Create(ctx, apikey.Spec{
		Name:        "orders integration",
		Owner:       apikey.Owner{ID: "mer_1", OrgID: "org_1", AppID: "app_1"},
		Permissions: []string{"can_read_order"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("token starts with mt_live_:", strings.HasPrefix(secret.Reveal(), "mt_live_"))
	fmt.Println("printed by mistake:", secret)

	api := middleware.Chain(
		tgerrors.Use(tgerrors.Problem),
		middleware.Authenticate(keys, middleware.OnRefusal(nil)),
		scopes.Require("can_read_order"),
	)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := principal.From(r.Context())
		fmt.Fprintf(w, "orders of %s (%s)", p.Subject(), p.StringClaim("org_id"))
	}))
	call := func() {
		r := httptest.NewRequest("GET", "/orders", nil)
		r.Header.Set("Authorization", "Bearer "+secret.Reveal())
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
			return
		}
		fmt.Println(w.Code, w.Body.String())
	}
	call()
	keys.Deactivate(ctx, key.ID)
	call()
	keys.Reactivate(ctx, key.ID)
	call()
	// Output:
	// token starts with mt_live_: true
	// printed by mistake: [REDACTED]
	// 200 orders of mer_1 (org_1)
	// 401 Bearer realm="api", error="invalid_token", error_description="The access token is invalid"
	// 200 orders of mer_1 (org_1)
}
