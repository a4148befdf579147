package authtest_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
)

func decodePart(t *testing.T, part string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatalf("decoding %q: %v", part, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	return m
}

func verifySignature(t *testing.T, iss *authtest.Issuer, alg, token string) bool {
	t.Helper()
	i := strings.LastIndexByte(token, '.')
	input, sigPart := token[:i], token[i+1:]
	sig, err := base64.RawURLEncoding.DecodeString(sigPart)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte(input))
	switch pub := iss.PublicKey(alg).(type) {
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil
	case *ecdsa.PublicKey:
		return len(sig) == 64 && ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
	case ed25519.PublicKey:
		return ed25519.Verify(pub, []byte(input), sig)
	}
	return false
}

func TestMintFillsDefaultsAndSignsWithEachKey(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	iss := authtest.NewIssuer(t, authtest.WithClock(func() time.Time { return now }))
	for _, alg := range []string{authtest.RS256, authtest.ES256, authtest.EdDSA} {
		t.Run(alg, func(t *testing.T) {
			token := iss.Mint(map[string]any{"sub": "u1"}, authtest.WithAlg(alg))
			parts := strings.Split(token, ".")
			if len(parts) != 3 {
				t.Fatalf("token has %d parts", len(parts))
			}
			h, c := decodePart(t, parts[0]), decodePart(t, parts[1])
			if h["alg"] != alg || h["kid"] != iss.KID(alg) || h["typ"] != "JWT" {
				t.Errorf("header = %v", h)
			}
			if c["iss"] != iss.URL() || c["sub"] != "u1" || c["iat"] != float64(now.Unix()) || c["exp"] != float64(now.Add(time.Hour).Unix()) {
				t.Errorf("claims = %v", c)
			}
			if !verifySignature(t, iss, alg, token) {
				t.Error("signature does not verify with the public key")
			}
		})
	}
}

func TestMintOptionsOverrideHeaderAndClaims(t *testing.T) {
	iss := authtest.NewIssuer(t)
	token := iss.Mint(map[string]any{"exp": nil, "iss": "other"},
		authtest.WithKID("nope"), authtest.WithHeader("typ", "at+jwt"), authtest.WithHeader("crit", []string{"x"}))
	parts := strings.Split(token, ".")
	h, c := decodePart(t, parts[0]), decodePart(t, parts[1])
	if h["kid"] != "nope" || h["typ"] != "at+jwt" || h["crit"] == nil {
		t.Errorf("header = %v", h)
	}
	if _, ok := c["exp"]; ok || c["iss"] != "other" {
		t.Errorf("claims = %v", c)
	}
	lying := decodePart(t, strings.Split(iss.Mint(nil, authtest.WithAlg("none")), ".")[0])
	if lying["alg"] != "none" || lying["kid"] != iss.KID(authtest.RS256) {
		t.Errorf("header of a token with an unknown alg = %v", lying)
	}
	noKID := iss.Mint(nil, authtest.WithKID(""))
	if _, ok := decodePart(t, strings.Split(noKID, ".")[0])["kid"]; ok {
		t.Error("WithKID(\"\") left a kid")
	}
}

func TestHMACSecretSignsWithoutKID(t *testing.T) {
	iss := authtest.NewIssuer(t)
	secret := []byte("0123456789abcdef0123456789abcdef")
	token := iss.Mint(nil, authtest.WithHMACSecret(secret))
	i := strings.LastIndexByte(token, '.')
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(token[:i]))
	if base64.RawURLEncoding.EncodeToString(m.Sum(nil)) != token[i+1:] {
		t.Error("HMAC signature mismatch")
	}
	h := decodePart(t, strings.Split(token, ".")[0])
	if h["alg"] != "HS256" || h["kid"] != nil {
		t.Errorf("header = %v", h)
	}
}

func TestSignUsesExactBytes(t *testing.T) {
	iss := authtest.NewIssuer(t)
	header, payload := []byte(`{"alg":"RS256","alg":"none"}`), []byte(` {"a":1} `)
	token := iss.Sign(header, payload)
	parts := strings.Split(token, ".")
	if parts[0] != base64.RawURLEncoding.EncodeToString(header) || parts[1] != base64.RawURLEncoding.EncodeToString(payload) {
		t.Error("Sign changed the bytes")
	}
	if !verifySignature(t, iss, authtest.RS256, token) {
		t.Error("signature does not verify")
	}
}

func fetch(t *testing.T, url string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Cache-Control"), string(b)
}

func TestJWKSServesRotatesAndFails(t *testing.T) {
	iss := authtest.NewIssuer(t)
	oldKID := iss.KID(authtest.RS256)
	iss.SetCacheControl("max-age=60")
	status, cc, body := fetch(t, iss.JWKSURL())
	if status != 200 || cc != "max-age=60" || !strings.Contains(body, oldKID) {
		t.Fatalf("got %d %q %s", status, cc, body)
	}
	iss.Rotate()
	if iss.KID(authtest.RS256) == oldKID {
		t.Fatal("Rotate kept the kid")
	}
	_, _, body = fetch(t, iss.JWKSURL())
	if strings.Contains(body, oldKID) || !strings.Contains(body, iss.KID(authtest.RS256)) {
		t.Errorf("after Rotate JWKS = %s", body)
	}
	iss.SetFailing(http.StatusBadGateway)
	if status, _, _ := fetch(t, iss.JWKSURL()); status != http.StatusBadGateway {
		t.Errorf("failing status = %d", status)
	}
	iss.SetFailing(0)
	iss.SetBody([]byte("garbage"))
	if _, _, body := fetch(t, iss.JWKSURL()); body != "garbage" {
		t.Errorf("body = %q", body)
	}
	iss.SetBody(nil)
	if got := iss.FetchCount(); got != 4 {
		t.Errorf("FetchCount = %d, want 4", got)
	}
}

func TestStalledJWKSHangsUntilTheClientGivesUp(t *testing.T) {
	iss := authtest.NewIssuer(t)
	iss.SetStalled(true)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, iss.JWKSURL(), nil)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	for iss.FetchCount() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err == nil {
		t.Error("stalled request was answered")
	}
	iss.SetStalled(false)
	if status, _, _ := fetch(t, iss.JWKSURL()); status != 200 {
		t.Errorf("after unstall status = %d", status)
	}
}
