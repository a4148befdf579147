package discovery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/tollgate/tollgate/internal/discovery"
)

// The metadata is trusted only for the issuer it names exactly.
func Example() {
	var issuer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": issuer, "jwks_uri": issuer + "/keys"})
	}))
	defer srv.Close()
	issuer = srv.URL

	md, err := discovery.Fetch(context.Background(), srv.Client(), issuer, 0)
	fmt.Println(md.JWKSURI == issuer+"/keys", err)
	_, err = discovery.Fetch(context.Background(), srv.Client(), issuer+"/", 0)
	fmt.Println(err != nil)
	// Output:
	// true <nil>
	// true
}
