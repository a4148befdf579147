package introspect

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	stderrors "errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tgerrors "github.com/tollgate/tollgate/errors"
)

// Test keys, made once: RSA key generation is slow under -race.
var (
	testKeysOnce sync.Once
	testRSA      *rsa.PrivateKey
	testEC       *ecdsa.PrivateKey
	testEd       ed25519.PrivateKey
)

func testKeys(testing.TB) (*rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey) {
	testKeysOnce.Do(func() {
		var err error
		if testRSA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if testEC, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if _, testEd, err = ed25519.GenerateKey(rand.Reader); err != nil {
			panic(err)
		}
	})
	return testRSA, testEC, testEd
}

// opaqueSigner hides the concrete key type, as a KMS or HSM signer does.
type opaqueSigner struct{ s crypto.Signer }

func (o opaqueSigner) Public() crypto.PublicKey { return o.s.Public() }
func (o opaqueSigner) Sign(r io.Reader, d []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.s.Sign(r, d, opts)
}

// failingSigner fails every signature.
type failingSigner struct{ crypto.Signer }

func (failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, stderrors.New("hsm: the key is offline")
}

// formKeys are the member names of a request's form, sorted.
func formKeys(form url.Values) []string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// lastRequest is the endpoint's last request and its form.
func (ep *endpoint) lastRequest() (*http.Request, url.Values) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return ep.lastReq, ep.lastForm
}

// Each secret holds what form-encoding must protect: the separator ':',
// '%' (which a server decodes), '+' (a space once decoded), a space, and
// non-ASCII.
func TestClientSecretMethodsSendTheCredentialsAsTheRFCSays(t *testing.T) {
	const id, secret = "orders api:1é", "p%41ss:w+rd é/€"
	tests := []struct {
		name     string
		auth     ClientAuth
		wantKeys []string
		check    func(t *testing.T, r *http.Request, form url.Values)
	}{
		{"client_secret_basic form-encodes id and secret, then base64", ClientSecretBasic(id, secret), []string{"token"},
			func(t *testing.T, r *http.Request, form url.Values) {
				// What a server following RFC 6749 §2.3.1 does: Basic
				// decode, then form-decode each half.
				user, pass, ok := r.BasicAuth()
				if !ok {
					t.Fatalf("no Basic credentials: Authorization %q", r.Header.Get("Authorization"))
				}
				gotID, err1 := url.QueryUnescape(user)
				gotSecret, err2 := url.QueryUnescape(pass)
				if err1 != nil || err2 != nil || gotID != id || gotSecret != secret {
					t.Errorf("decoded id %q secret %q (%v, %v), want %q %q", gotID, gotSecret, err1, err2, id, secret)
				}
				if strings.Count(user+":"+pass, ":") != 1 {
					t.Errorf("a ':' of the id or secret was not encoded: %q", user+":"+pass)
				}
			}},
		{"client_secret_post sends id and secret in the form", ClientSecretPost(id, secret), []string{"client_id", "client_secret", "token"},
			func(t *testing.T, r *http.Request, form url.Values) {
				if got := r.Header.Get("Authorization"); got != "" {
					t.Errorf("Authorization %q, want none", got)
				}
				if form.Get("client_id") != id || form.Get("client_secret") != secret {
					t.Errorf("form client_id %q client_secret %q, want %q %q", form.Get("client_id"), form.Get("client_secret"), id, secret)
				}
			}},
		{"a bearer token of the resource server", BearerToken("rs-t0ken.a~b/c+d=="), []string{"token"},
			func(t *testing.T, r *http.Request, form url.Values) {
				if got := r.Header.Values("Authorization"); len(got) != 1 || got[0] != "Bearer rs-t0ken.a~b/c+d==" {
					t.Errorf("Authorization %q", got)
				}
			}},
		{"no client authentication sends no credentials", NoClientAuth(), []string{"token"},
			func(t *testing.T, r *http.Request, form url.Values) {
				if got := r.Header.Get("Authorization"); got != "" {
					t.Errorf("Authorization %q, want none", got)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := newEndpoint(t, answer(`{"active":true}`))
			c := newClient(t, ep, newClock(), func(c *Config) { c.Auth = tt.auth })
			if _, err := c.Verify(context.Background(), goodToken); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			r, form := ep.lastRequest()
			if got := formKeys(form); !slices.Equal(got, tt.wantKeys) {
				t.Errorf("form members %q, want %q", got, tt.wantKeys)
			}
			if form.Get("token") != goodToken {
				t.Errorf("token %q", form.Get("token"))
			}
			if r.URL.RawQuery != "" {
				t.Errorf("query %q: credentials travel only in the body or a header", r.URL.RawQuery)
			}
			tt.check(t, r, form)
		})
	}
}

// jwsParts decodes a compact JWS without verifying it.
func jwsParts(t *testing.T, compact string) (header, claims map[string]any, signingInput, sig []byte) {
	t.Helper()
	parts := strings.Split(compact, ".")
	if len(parts) != 3 {
		t.Fatalf("client_assertion %q is not a compact JWS", compact)
	}
	dec := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("part %q is not base64url: %v", s, err)
		}
		return b
	}
	if err := json.Unmarshal(dec(parts[0]), &header); err != nil {
		t.Fatalf("header: %v", err)
	}
	if err := json.Unmarshal(dec(parts[1]), &claims); err != nil {
		t.Fatalf("claims: %v", err)
	}
	return header, claims, []byte(parts[0] + "." + parts[1]), dec(parts[2])
}

// verifyJWS checks sig with the standard library alone, so the test does
// not trust the library that signed.
func verifyJWS(t *testing.T, alg string, pub crypto.PublicKey, input, sig []byte) {
	t.Helper()
	digest := sha256.Sum256(input)
	var ok bool
	switch alg {
	case "RS256":
		ok = rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, digest[:], sig) == nil
	case "ES256":
		ok = len(sig) == 64 && ecdsa.Verify(pub.(*ecdsa.PublicKey), digest[:],
			new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
	case "EdDSA":
		ok = ed25519.Verify(pub.(ed25519.PublicKey), input, sig)
	}
	if !ok {
		t.Errorf("the %s signature of the client assertion does not verify", alg)
	}
}

func TestPrivateKeyJWTSendsAFreshSignedAssertion(t *testing.T) {
	rsaKey, ecKey, edKey := testKeys(t)
	tests := []struct {
		name     string
		signer   crypto.Signer
		kid      string
		opts     PrivateKeyJWTOptions
		wantAlg  string
		wantAud  string // "" means the endpoint's URL
		lifetime time.Duration
	}{
		{"RS256 from an RSA key", rsaKey, "rsa-1", PrivateKeyJWTOptions{}, "RS256", "", time.Minute},
		{"ES256 from a P-256 key", ecKey, "ec-1", PrivateKeyJWTOptions{}, "ES256", "", time.Minute},
		{"EdDSA from an Ed25519 key", edKey, "ed-1", PrivateKeyJWTOptions{}, "EdDSA", "", time.Minute},
		{"a KMS-style opaque signer", opaqueSigner{ecKey}, "kms-key", PrivateKeyJWTOptions{Algorithm: "ES256"}, "ES256", "", time.Minute},
		{"ZITADEL's audience is its issuer", rsaKey, "284761284761", PrivateKeyJWTOptions{Audience: "https://acme.zitadel.cloud"},
			"RS256", "https://acme.zitadel.cloud", time.Minute},
		{"a shorter lifetime", edKey, "ed-1", PrivateKeyJWTOptions{Lifetime: 20 * time.Second}, "EdDSA", "", 20 * time.Second},
		{"no kid", edKey, "", PrivateKeyJWTOptions{}, "EdDSA", "", time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := newEndpoint(t, answer(`{"active":true}`))
			clk := newClock()
			c := newClient(t, ep, clk, func(c *Config) {
				c.Auth = PrivateKeyJWT("orders-api", tt.signer, tt.kid, tt.opts)
				c.NegativeTTL = -1
			})
			wantAud := tt.wantAud
			if wantAud == "" {
				wantAud = ep.URL
			}
			jtis := map[string]bool{}
			for i, token := range []string{goodToken, "second-token", "third-token"} {
				if _, err := c.Verify(context.Background(), token); err != nil {
					t.Fatalf("Verify: %v", err)
				}
				r, form := ep.lastRequest()
				if got := r.Header.Get("Authorization"); got != "" {
					t.Errorf("Authorization %q, want none", got)
				}
				if got, want := formKeys(form), []string{"client_assertion", "client_assertion_type", "token"}; !slices.Equal(got, want) {
					t.Errorf("form members %q, want %q", got, want)
				}
				if got := form.Get("client_assertion_type"); got != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
					t.Errorf("client_assertion_type %q", got)
				}
				header, claims, input, sig := jwsParts(t, form.Get("client_assertion"))
				wantHeader := map[string]any{"alg": tt.wantAlg}
				if tt.kid != "" {
					wantHeader["kid"] = tt.kid
				}
				if fmt.Sprint(header) != fmt.Sprint(wantHeader) {
					t.Errorf("header %v, want %v", header, wantHeader)
				}
				verifyJWS(t, tt.wantAlg, tt.signer.Public(), input, sig)
				now := clk.Now().Unix()
				jti, _ := claims["jti"].(string)
				wantClaims := map[string]any{
					"iss": "orders-api", "sub": "orders-api", "aud": wantAud, "jti": jti,
					"iat": float64(now), "exp": float64(now + int64(tt.lifetime/time.Second)),
				}
				if fmt.Sprint(claims) != fmt.Sprint(wantClaims) {
					t.Errorf("claims %v, want %v", claims, wantClaims)
				}
				if b, err := base64.RawURLEncoding.DecodeString(jti); err != nil || len(b) < 16 {
					t.Errorf("jti %q is not 128 random bits", jti)
				}
				if jtis[jti] {
					t.Errorf("call %d reused jti %q", i, jti)
				}
				jtis[jti] = true
				clk.Advance(time.Second)
			}
		})
	}
}

func TestAFailingSignerIsUnavailableAndNotCached(t *testing.T) {
	_, ecKey, _ := testKeys(t)
	ep := newEndpoint(t, answer(`{"active":true}`))
	var logs bytes.Buffer
	c := newClient(t, ep, newClock(), func(c *Config) {
		c.Auth = PrivateKeyJWT("orders-api", failingSigner{ecKey}, "k", PrivateKeyJWTOptions{})
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	for range 2 {
		_, err := c.Verify(context.Background(), goodToken)
		wantRefusal(t, err, tgerrors.Unavailable)
	}
	if n := ep.calls.Load(); n != 0 {
		t.Errorf("%d calls reached the endpoint without credentials", n)
	}
	if c.refused.Len() != 0 || c.active.Len() != 0 {
		t.Errorf("a failure to sign was cached")
	}
	if !strings.Contains(logs.String(), "signing the client assertion") {
		t.Errorf("the failure is not logged: %q", logs.String())
	}
}

func TestNewRefusesUnusableClientAuth(t *testing.T) {
	rsaKey, ecKey, edKey := testKeys(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		auth ClientAuth
	}{
		{"the zero ClientAuth", ClientAuth{}},
		{"Basic without a client id", ClientSecretBasic("", "s")},
		{"post without a client id", ClientSecretPost("", "s")},
		{"an empty bearer token", BearerToken("")},
		{"a bearer token with a space", BearerToken("a b")},
		{"a bearer token with a line break", BearerToken("a\r\nX-Injected: 1")},
		{"private_key_jwt without a client id", PrivateKeyJWT("", edKey, "k", PrivateKeyJWTOptions{})},
		{"private_key_jwt without a signer", PrivateKeyJWT("rs", nil, "k", PrivateKeyJWTOptions{})},
		{"an RSA key under 2048 bits", PrivateKeyJWT("rs", small, "k", PrivateKeyJWTOptions{})},
		{"an ECDSA key off P-256", PrivateKeyJWT("rs", p384, "k", PrivateKeyJWTOptions{})},
		{"an algorithm the key cannot make", PrivateKeyJWT("rs", rsaKey, "k", PrivateKeyJWTOptions{Algorithm: "ES256"})},
		{"HS256", PrivateKeyJWT("rs", ecKey, "k", PrivateKeyJWTOptions{Algorithm: "HS256"})},
		{"none", PrivateKeyJWT("rs", edKey, "k", PrivateKeyJWTOptions{Algorithm: "none"})},
		{"a lifetime over a minute", PrivateKeyJWT("rs", edKey, "k", PrivateKeyJWTOptions{Lifetime: 61 * time.Second})},
		{"a negative lifetime", PrivateKeyJWT("rs", edKey, "k", PrivateKeyJWTOptions{Lifetime: -time.Second})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(Config{Endpoint: "https://auth.example.com/introspect", Auth: tt.auth}); err == nil {
				t.Errorf("New accepted %v", tt.auth)
			}
		})
	}
}

// A secret, a bearer token and a signed assertion are credentials: no
// printing of the Config, no log line and no error may carry them.
func TestCredentialsAreNeverPrintedLoggedOrInErrors(t *testing.T) {
	_, ecKey, _ := testKeys(t)
	const secret = "very-secret-value"
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	ep := newEndpoint(t, status(http.StatusUnauthorized, `{"error":"invalid_client"}`))

	var (
		mu         sync.Mutex
		assertions []string
	)
	ep.setResponse(func(w http.ResponseWriter, r *http.Request) {
		if a := r.PostFormValue("client_assertion"); a != "" {
			mu.Lock()
			assertions = append(assertions, a)
			mu.Unlock()
		}
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"invalid_client"}`)
	})
	for _, auth := range []ClientAuth{
		ClientSecretBasic("orders-api", secret),
		ClientSecretPost("orders-api", secret),
		BearerToken(secret),
		PrivateKeyJWT("orders-api", ecKey, "k", PrivateKeyJWTOptions{}),
	} {
		cfg := Config{Endpoint: ep.URL, Auth: auth, Logger: logger, Now: newClock().Now}
		printed := fmt.Sprintf("%v %+v %#v %s %v", cfg, cfg, cfg, auth, &cfg)
		logger.Info("config", "auth", auth, "cfg", cfg)
		c, err := New(cfg)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		_, verr := c.Verify(context.Background(), goodToken)
		wantRefusal(t, verr, tgerrors.Unavailable)
		var e *tgerrors.Error
		stderrors.As(verr, &e)
		for what, text := range map[string]string{"printed config": printed, "error": verr.Error() + e.Message} {
			if strings.Contains(text, secret) {
				t.Errorf("%v: the %s holds the secret: %s", auth, what, text)
			}
		}
		if !strings.Contains(printed, auth.String()) {
			t.Errorf("%v: the printed config %q does not name the method", auth, printed)
		}
	}
	// An error of New names no secret either.
	if _, err := New(Config{Endpoint: "https://auth.example.com/i", Auth: ClientSecretBasic("", secret)}); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("New: %v", err)
	}
	if _, err := New(Config{Endpoint: "https://auth.example.com/i", Auth: BearerToken(secret + " x")}); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("New: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(assertions) == 0 {
		t.Fatal("no assertion reached the endpoint")
	}
	for _, a := range append(assertions, secret) {
		if strings.Contains(logs.String(), a) {
			t.Errorf("the logs hold a credential: %s", logs.String())
		}
	}
	if !strings.Contains(logs.String(), "private_key_jwt(orders-api)") {
		t.Errorf("the logs do not name the method: %s", logs.String())
	}
}

// BenchmarkCallByClientAuth measures a cache miss, one introspection call
// to a loopback endpoint, under each client authentication: what signing
// a new assertion per call adds to the call it authenticates.
func BenchmarkCallByClientAuth(b *testing.B) {
	rsaKey, ecKey, edKey := testKeys(nil)
	ep := newEndpointB(b, answer(`{"active":true,"sub":"u1","scope":"read"}`))
	for _, bm := range []struct {
		name string
		auth ClientAuth
	}{
		{"client_secret_basic", ClientSecretBasic("rs", "s")},
		{"client_secret_post", ClientSecretPost("rs", "s")},
		{"private_key_jwt_ES256", PrivateKeyJWT("rs", ecKey, "k", PrivateKeyJWTOptions{})},
		{"private_key_jwt_EdDSA", PrivateKeyJWT("rs", edKey, "k", PrivateKeyJWTOptions{})},
		{"private_key_jwt_RS256", PrivateKeyJWT("rs", rsaKey, "k", PrivateKeyJWTOptions{})},
	} {
		b.Run(bm.name, func(b *testing.B) {
			c, err := New(Config{Endpoint: ep.URL, Auth: bm.auth, CacheSize: 1})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if _, err := c.Verify(ctx, "tok-"+strconv.Itoa(i)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
