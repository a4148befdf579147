package main

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
)

const audience = "https://api.vendorportal.example"

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// countingHandlers returns the portal's handlers, recording which ran.
func countingHandlers(reached *[]string) handlers {
	count := func(name string, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			*reached = append(*reached, name)
			h.ServeHTTP(w, r)
		})
	}
	return handlers{
		listProducts: count("listProducts", portal.listProducts),
		updateStock:  count("updateStock", portal.updateStock),
	}
}

func TestVendorPortal(t *testing.T) {
	start := time.Now().Truncate(time.Second)
	clk := authtest.NewClock(start)
	iss := authtest.NewIssuer(t, authtest.WithClock(clk.Now))
	other := authtest.NewIssuer(t, authtest.WithClock(clk.Now))
	v, err := newVerifier(t.Context(), config{Issuer: iss.URL(), JWKSURL: iss.JWKSURL(), Audience: audience, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })

	claims := func(scope string) map[string]any {
		return map[string]any{"sub": "vendor-17", "client_id": "vendor-17", "aud": audience, "scope": scope}
	}
	vendor := iss.Mint(claims("products:read stock:write"))
	readOnly := iss.Mint(claims("products:read"))
	with := func(scope string, change map[string]any) map[string]any {
		c := claims(scope)
		for k, v := range change {
			c[k] = v
		}
		return c
	}
	rsaPublic, err := x509.MarshalPKIXPublicKey(iss.PublicKey(authtest.RS256))
	if err != nil {
		t.Fatal(err)
	}
	rsaPublicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaPublic})
	payload, _ := json.Marshal(claims("products:read stock:write"))
	unsigned := b64(`{"alg":"none","typ":"JWT"}`) + "." + base64.RawURLEncoding.EncodeToString(payload) + "."

	const (
		unauthorized = `{"message":"Unauthorized"}`
		forbidden    = `{"message":"Forbidden"}`
		badRequest   = `{"message":"Bad Request"}`
		invalid      = `Bearer realm="api", error="invalid_token", error_description="The access token is invalid"`
		expired      = `Bearer realm="api", error="invalid_token", error_description="The access token expired"`
		noStockScope = `Bearer realm="api", error="insufficient_scope", error_description="The access token does not grant the required scope", scope="stock:write"`
	)
	bearer := func(token string) string { return "Bearer " + token }

	tests := []struct {
		name          string
		method, path  string
		authorization string
		body          string
		at            time.Duration // since the tokens were minted
		status        int
		challenge     string
		want          string
		reached       string
	}{
		{name: "a vendor lists its products",
			method: "GET", path: "/v1/products", authorization: bearer(vendor),
			status: 200, want: `{"products":["sku-1","sku-2"],"vendor":"vendor-17"}`, reached: "listProducts"},
		{name: "a vendor updates a stock",
			method: "PUT", path: "/v1/products/sku-1/stock", authorization: bearer(vendor), body: `{"quantity":12}`,
			status: 200, want: `{"id":"sku-1","quantity":12}`, reached: "updateStock"},
		{name: "a token is still good 59 minutes after it was issued",
			method: "GET", path: "/v1/products", authorization: bearer(vendor), at: 59 * time.Minute,
			status: 200, want: `{"products":["sku-1","sku-2"],"vendor":"vendor-17"}`, reached: "listProducts"},
		{name: "the handler's own refusal is written in the same format",
			method: "PUT", path: "/v1/products/sku-1/stock", authorization: bearer(vendor), body: `{"quantity":-1}`,
			status: 400, want: badRequest, reached: "updateStock"},

		{name: "no token is refused with 401 Unauthorized and a challenge",
			method: "GET", path: "/v1/products",
			status: 401, challenge: `Bearer realm="api"`, want: unauthorized},
		{name: "basic credentials are no bearer token: 401",
			method: "GET", path: "/v1/products", authorization: "Basic dmVuZG9yOnNlY3JldA==",
			status: 401, challenge: `Bearer realm="api"`, want: unauthorized},
		{name: "a token an hour and a minute old is refused with 401: it expired",
			method: "GET", path: "/v1/products", authorization: bearer(vendor), at: time.Hour + time.Minute,
			status: 401, challenge: expired, want: unauthorized},
		{name: "a token from another issuer is refused with 401",
			method: "GET", path: "/v1/products", authorization: bearer(other.Mint(claims("products:read"))),
			status: 401, challenge: invalid, want: unauthorized},
		{name: "a token for another audience is refused with 401",
			method: "GET", path: "/v1/products", authorization: bearer(iss.Mint(with("products:read", map[string]any{"aud": "https://api.other.example"}))),
			status: 401, challenge: invalid, want: unauthorized},
		{name: "a token without an expiry is refused with 401",
			method: "GET", path: "/v1/products", authorization: bearer(iss.Mint(with("products:read", map[string]any{"exp": nil}))),
			status: 401, challenge: invalid, want: unauthorized},
		{name: "an unsigned alg=none token is refused with 401",
			method: "GET", path: "/v1/products", authorization: bearer(unsigned),
			status: 401, challenge: invalid, want: unauthorized},
		{name: "a signed token whose header says alg=none is refused with 401",
			method: "GET", path: "/v1/products", authorization: bearer(iss.Mint(claims("products:read"), authtest.WithAlg("none"))),
			status: 401, challenge: invalid, want: unauthorized},
		{name: "an HS256 token keyed with the issuer's public key is refused with 401",
			method: "GET", path: "/v1/products", authorization: bearer(iss.Mint(claims("products:read"), authtest.WithHMACSecret(rsaPublicPEM))),
			status: 401, challenge: invalid, want: unauthorized},
		{name: "a token with a forged signature is refused with 401",
			method: "GET", path: "/v1/products", authorization: bearer(vendor[:strings.LastIndexByte(vendor, '.')] + "." + b64("forged")),
			status: 401, challenge: invalid, want: unauthorized},
		{name: "a token without stock:write is refused with 403 Forbidden",
			method: "PUT", path: "/v1/products/sku-1/stock", authorization: bearer(readOnly), body: `{"quantity":12}`,
			status: 403, challenge: noStockScope, want: forbidden},
		{name: "a token without products:read is refused with 403 Forbidden",
			method: "GET", path: "/v1/products", authorization: bearer(iss.Mint(claims("stock:write"))),
			status:    403,
			challenge: `Bearer realm="api", error="insufficient_scope", error_description="The access token does not grant the required scope", scope="products:read"`,
			want:      forbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk.Set(start.Add(tt.at))
			var reached []string
			api := newAPI(v, countingHandlers(&reached))
			r := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			if tt.authorization != "" {
				r.Header.Set("Authorization", tt.authorization)
			}
			w := httptest.NewRecorder()
			api.ServeHTTP(w, r)

			if w.Code != tt.status {
				t.Errorf("status %d, want %d", w.Code, tt.status)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.challenge)
			}
			if got := w.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type %q, want application/json", got)
			}
			if got := strings.TrimSuffix(w.Body.String(), "\n"); got != tt.want {
				t.Errorf("body %s, want %s", got, tt.want)
			}
			if got := strings.Join(reached, ","); got != tt.reached {
				t.Errorf("handlers reached: %q, want %q", got, tt.reached)
			}
		})
	}
}

// Every token the portal accepts is a client-credentials token, and the
// handler sees the vendor's client id.
func TestPrincipalIsTheVendorClient(t *testing.T) {
	iss := authtest.NewIssuer(t)
	v, err := newVerifier(t.Context(), config{Issuer: iss.URL(), JWKSURL: iss.JWKSURL(), Audience: audience})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	p, err := v.Verify(t.Context(), iss.Mint(map[string]any{"sub": "vendor-17", "client_id": "vendor-17", "aud": audience, "scope": "products:read"}))
	if err != nil {
		t.Fatal(err)
	}
	if p.Type() != "client_credentials" || p.ClientID() != "vendor-17" || !p.HasScope("products:read") {
		t.Errorf("principal type %q, client id %q, scopes %q; want client_credentials, vendor-17, [products:read]", p.Type(), p.ClientID(), p.Scopes())
	}
}
