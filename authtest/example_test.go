package authtest_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/tollgate/tollgate/authtest"
)

// An Issuer serves its public keys as a JWKS and mints tokens signed by the
// matching private keys, with whatever claims the test needs.
func Example() {
	iss, err := authtest.NewLocalIssuer()
	if err != nil {
		panic(err)
	}
	defer iss.Close()

	resp, err := http.Get(iss.JWKSURL())
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kty, Alg string
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		panic(err)
	}
	for _, k := range set.Keys {
		fmt.Println("key:", k.Kty, k.Alg)
	}

	token := iss.Mint(map[string]any{"sub": "user-1", "aud": "orders-api", "scope": "orders:read"},
		authtest.WithAlg(authtest.ES256))
	parts := strings.Split(token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	fmt.Println("parts:", len(parts))
	fmt.Println("sub:", claims["sub"], "aud:", claims["aud"], "iss is URL:", claims["iss"] == iss.URL())
	fmt.Println("fetches:", iss.FetchCount())
	_, _ = io.Copy(io.Discard, resp.Body)

	// Output:
	// key: RSA RS256
	// key: EC ES256
	// key: OKP EdDSA
	// parts: 3
	// sub: user-1 aud: orders-api iss is URL: true
	// fetches: 1
}
