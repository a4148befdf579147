package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/tollgate/tollgate/authtest"
	"github.com/tollgate/tollgate/jwt"
)

func runCmd(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestKeysPrintsThePublicJWKAndWritesThePrivateKeyMode0600(t *testing.T) {
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "signing.pem")
			code, stdout, stderr := runCmd("", "keys", "-alg", alg, "-kid", "k-"+alg, "-out", out)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if strings.Contains(stdout, "PRIVATE") {
				t.Error("the private key went to standard output")
			}
			var pub map[string]any
			if err := json.Unmarshal([]byte(stdout), &pub); err != nil {
				t.Fatalf("stdout is not a JWK: %v\n%s", err, stdout)
			}
			if pub["kid"] != "k-"+alg || pub["alg"] != alg || pub["use"] != "sig" {
				t.Errorf("JWK %v, want kid, alg and use", pub)
			}
			for _, m := range []string{"d", "p", "q", "dp", "dq", "qi"} {
				if _, ok := pub[m]; ok {
					t.Errorf("the JWK holds private member %q", m)
				}
			}
			fi, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600", fi.Mode().Perm())
			}
			priv := readPKCS8(t, out)
			k, err := jwk.ParseKey([]byte(stdout))
			if err != nil {
				t.Fatal(err)
			}
			printed, err := jwk.PublicRawKeyOf(k)
			if err != nil {
				t.Fatal(err)
			}
			if !priv.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(printed) {
				t.Error("the printed JWK is not the written key's public half")
			}

			before, _ := os.ReadFile(out)
			if code, _, _ := runCmd("", "keys", "-alg", alg, "-out", out); code != 2 {
				t.Errorf("over an existing file: exit %d, want 2", code)
			}
			if after, _ := os.ReadFile(out); !bytes.Equal(before, after) {
				t.Error("an existing key file was overwritten")
			}
		})
	}
}

func TestKeysWritesThePrivateKeyToStandardOutputOnlyWhenAsked(t *testing.T) {
	code, stdout, stderr := runCmd("", "keys")
	if code != 2 || stdout != "" || !strings.Contains(stderr, "-out") {
		t.Errorf("without -out: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, _ = runCmd("", "keys", "-out", "-")
	if code != 0 || !strings.Contains(stdout, "-----BEGIN PRIVATE KEY-----") {
		t.Errorf("with -out -: exit %d, stdout %q", code, stdout)
	}
	if code, _, _ := runCmd("", "keys", "-alg", "HS256", "-out", "-"); code != 2 {
		t.Errorf("-alg HS256: exit %d, want 2", code)
	}
}

func readPKCS8(t *testing.T, name string) crypto.Signer {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("%s is not a PKCS#8 PEM", name)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(crypto.Signer)
}

// A key made by `tollgate keys` signs a token that `tollgate explain`
// accepts with the printed JWK as its key set.
func TestKeysMakeAKeySetExplainAccepts(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "signing.pem")
	code, stdout, stderr := runCmd("", "keys", "-alg", "ES256", "-kid", "k1", "-out", out)
	if code != 0 {
		t.Fatal(stderr)
	}
	set := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(set, []byte(`{"keys":[`+stdout+`]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]any{"iss": "https://issuer.example", "sub": "svc", "aud": "orders-api", "exp": time.Now().Add(time.Hour).Unix()})
	hdr := jws.NewHeaders()
	_ = hdr.Set("kid", "k1")
	signed, err := jws.Sign(payload, jws.WithKey(jwa.ES256(), readPKCS8(t, out), jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCmd(string(signed)+"\n", "explain", "-token", "-", "-jwks", set, "-aud", "orders-api")
	if code != 0 || !strings.Contains(stdout, `verdict: accepted: sub "svc"`) {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, `kid "k1", EC P-256, thumbprint `) {
		t.Errorf("the key step does not name the key:\n%s", stdout)
	}
}

func TestExplainPrintsVerifysVerdict(t *testing.T) {
	iss := authtest.NewIssuer(t)
	other := authtest.NewIssuer(t)
	now := time.Now()
	mint := func(extra map[string]any, opts ...authtest.MintOption) string {
		c := map[string]any{"sub": "user-1", "aud": "orders-api", "scope": "orders:read", "roles": []any{"admin"}}
		for k, v := range extra {
			c[k] = v
		}
		return iss.Mint(c, opts...)
	}
	flags := []string{"-issuer", iss.URL(), "-jwks", iss.JWKSURL(), "-aud", "orders-api", "-alg", "ES256,RS256", "-role-claims", "roles"}
	for _, tc := range []struct {
		name, token, failed string
		code                int
	}{
		{"good", mint(nil), "", 0},
		{"good RS256", mint(nil, authtest.WithAlg("RS256")), "", 0},
		{"not a JWS", "abc.def", "shape", 1},
		{"embedded key", mint(nil, authtest.WithHeader("jwk", map[string]any{"kty": "oct"})), "header", 1},
		{"other issuer", other.Mint(map[string]any{"sub": "x", "aud": "orders-api"}), "iss", 1},
		{"EdDSA not allowed", mint(nil, authtest.WithAlg("EdDSA")), "alg", 1},
		{"refresh token", mint(map[string]any{"token_type": "refresh_token"}), "kind", 1},
		{"other audience", mint(map[string]any{"aud": "billing"}), "aud", 1},
		{"unknown kid", mint(nil, authtest.WithKID("retired")), "key", 1},
		{"forged", forge(mint(map[string]any{"sub": "admin"}), mint(nil)), "signature", 1},
		{"expired", mint(map[string]any{"exp": now.Add(-time.Hour).Unix(), "iat": now.Add(-2 * time.Hour).Unix()}), "exp", 1},
		{"not yet valid", mint(map[string]any{"nbf": now.Add(time.Hour).Unix()}), "nbf", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd("", append([]string{"explain", "-token", tc.token}, flags...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tc.code, stdout, stderr)
			}
			lines := strings.Split(strings.TrimSpace(stdout), "\n")
			got := lines[len(lines)-1]

			// The verdict Verify itself gives, under the configuration the
			// same flags make.
			f := explainFlags{issuer: iss.URL(), jwks: iss.JWKSURL(), aud: "orders-api", algs: "ES256,RS256", roleClaims: "roles", leeway: 30 * time.Second}
			cfg, _, err := f.config(tc.token)
			if err != nil {
				t.Fatal(err)
			}
			cfg.OnRefreshError = func(string, error) {}
			v, err := jwt.NewVerifier(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			p, verr := v.Verify(context.Background(), tc.token)
			if want := verdict(p, verr); got != want {
				t.Errorf("printed %q\nVerify says %q", got, want)
			}
			if tc.failed != "" && !hasLine(lines, "FAIL  "+tc.failed+" ") {
				t.Errorf("no FAIL line for %s:\n%s", tc.failed, stdout)
			}
			if strings.Contains(stdout, `"d":`) || strings.Contains(stdout, "PRIVATE") {
				t.Errorf("output holds key material:\n%s", stdout)
			}
		})
	}
}

// forge is the header and claims of one token with the signature of another.
func forge(claimsOf, signatureOf string) string {
	return claimsOf[:strings.LastIndexByte(claimsOf, '.')] + signatureOf[strings.LastIndexByte(signatureOf, '.'):]
}

func hasLine(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func TestExplainUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"explain"},
		{"explain", "-token", "a.b.c"},
		{"explain", "-token", "a.b.c", "-jwks", "/does/not/exist.json"},
		{"explain", "-token", "a.b.c", "-issuer", "https://issuer.example", "-alg", "none"},
		{"nosuch"},
		{},
	} {
		if code, _, _ := runCmd("", args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

func TestExplainWithAJWKSURLAndNoIssuerTrustsTheTokensIssOnlyWithThoseKeys(t *testing.T) {
	iss, other := authtest.NewIssuer(t), authtest.NewIssuer(t)
	token := iss.Mint(map[string]any{"sub": "user-1", "aud": "orders-api"})
	code, stdout, stderr := runCmd("", "explain", "-token", token, "-jwks", iss.JWKSURL(), "-aud", "orders-api")
	if code != 0 || !strings.Contains(stdout, "no -issuer: the token's own iss") {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
	forged := other.Mint(map[string]any{"iss": iss.URL(), "sub": "user-1", "aud": "orders-api"})
	code, stdout, _ = runCmd("", "explain", "-token", forged, "-jwks", iss.JWKSURL(), "-aud", "orders-api")
	if code != 1 || !hasLine(strings.Split(stdout, "\n"), "FAIL  key ") {
		t.Errorf("a token of another issuer's keys: exit %d\n%s", code, stdout)
	}
}

func TestExplainRefusesAKeyFileWithPrivateKeys(t *testing.T) {
	dir := t.TempDir()
	code, stdout, _ := runCmd("", "keys", "-out", "-")
	if code != 0 {
		t.Fatal(code)
	}
	// A JWK with its private half: what a careless copy of a signing key
	// would look like.
	pemStart := strings.Index(stdout, "-----BEGIN")
	name := filepath.Join(dir, "priv.pem")
	if err := os.WriteFile(name, []byte(stdout[pemStart:]), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := jwk.Import(readPKCS8(t, name))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"keys": []any{k}})
	set := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(set, b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCmd("", "explain", "-token", "a.b.c", "-issuer", "https://issuer.example", "-jwks", set)
	if code != 2 || !strings.Contains(stderr, "private key material") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}
