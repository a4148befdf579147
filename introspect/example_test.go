package introspect_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

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

// A resource server that authenticates with its own key (private_key_jwt,
// RFC 7523) rather than a shared secret: every call carries a fresh
// assertion signed by the key the server knows under "orders-key-1".
func ExamplePrivateKeyJWT() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A real server verifies the signature with the registered key and
		// checks iss, sub, aud, exp and that the jti is new.
		fmt.Println(r.PostFormValue("client_assertion_type"))
		parts := strings.Split(r.PostFormValue("client_assertion"), ".")
		header, _ := base64.RawURLEncoding.DecodeString(parts[0])
		fmt.Println(string(header))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"active":true,"sub":"merchant-42","aud":"orders"}`)
	}))
	defer as.Close()

	client, err := introspect.New(introspect.Config{
		Endpoint:  as.URL,
		Auth:      introspect.PrivateKeyJWT("orders-api", key, "orders-key-1", introspect.PrivateKeyJWTOptions{}),
		Audiences: []string{"orders"},
	})
	if err != nil {
		panic(err)
	}
	p, err := client.Verify(context.Background(), "mF_9.B5f-4.1JqM")
	fmt.Println(p.Subject(), err)
	// Output:
	// urn:ietf:params:oauth:client-assertion-type:jwt-bearer
	// {"alg":"ES256","kid":"orders-key-1"}
	// merchant-42 <nil>
}
