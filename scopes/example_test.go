package scopes_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/scopes"
)

func Example() {
	getOrder := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "order 1") })
	route := scopes.Require("can_read_order")(getOrder)

	for _, granted := range [][]string{{"can_read_order"}, {"can_read_customer"}} {
		// middleware.Authenticate would put the verified caller here.
		req := httptest.NewRequest("GET", "/orders/1", nil)
		req = req.WithContext(principal.NewContext(req.Context(), principal.New(principal.Fields{Scopes: granted})))
		rec := httptest.NewRecorder()
		route.ServeHTTP(rec, req)
		fmt.Println(granted, rec.Code)
		if ch := rec.Header().Get("WWW-Authenticate"); ch != "" {
			fmt.Println(ch)
		}
	}
	// Output:
	// [can_read_order] 200
	// [can_read_customer] 403
	// Bearer realm="api", error="insufficient_scope", error_description="The access token does not grant the required scope", scope="can_read_order"
}

// Roles are checked apart from scopes: a scope named "refunder" does not
// pass a route that requires the refunder role.
func ExampleRequireRole() {
	refund := scopes.RequireRole("refunder")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "refunded") }))
	for _, f := range []principal.Fields{
		{Roles: []string{"refunder"}},
		{Scopes: []string{"refunder"}},
	} {
		req := httptest.NewRequest("POST", "/refunds", nil)
		req = req.WithContext(principal.NewContext(req.Context(), principal.New(f)))
		rec := httptest.NewRecorder()
		refund.ServeHTTP(rec, req)
		fmt.Println(f.Roles, f.Scopes, rec.Code)
	}
	// Output:
	// [refunder] [] 200
	// [] [refunder] 403
}
