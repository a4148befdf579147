package introspect_test

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/http/httptest"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/introspect"
)

// A Client asks the authorization server about each new token and caches
// the answer; its Verify is what middleware.Authenticate calls.
func Example() {
	// A stand-in for the authorization server's introspection endpoint.
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		if id != "orders-api" || subtle.ConstantTimeCompare([]byte(secret), []byte("s3cret")) != 1 {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.PostFormValue("token") == "mF_9.B5f-4.1JqM" {
			fmt.Fprint(w, `{"active":true,"sub":"merchant-42","client_id":"shop","scope":"can_read_order can_write_order","jti":"tok-1"}`)
			return
		}
		fmt.Fprint(w, `{"active":false}`)
	}))
	defer as.Close()

	client, err := introspect.New(introspect.Config{
		Endpoint:  as.URL,
		Auth:      introspect.ClientSecretBasic("orders-api", "s3cret"),
		TokenType: "merchant",
	})
	if err != nil {
		panic(err)
	}

	p, err := client.Verify(context.Background(), "mF_9.B5f-4.1JqM")
	fmt.Println(p.Subject(), p.Type(), p.Scopes(), p.HasScope("can_read_order"), err)

	_, err = client.Verify(context.Background(), "revoked-or-unknown")
	fmt.Println(tgerrors.KindOf(err))

	_, err = client.Verify(context.Background(), "not a token")
	fmt.Println(tgerrors.KindOf(err))
	// Output:
	// merchant-42 merchant [can_read_order can_write_order] true <nil>
	// invalid_token
	// invalid_token
}
