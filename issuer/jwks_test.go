package issuer_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/jwt"
)

func get(t *testing.T, h http.Handler, method string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "/.well-known/jwks.json", nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestTheJWKSHandlerServesEveryPublishedKeyAndNoPrivateMaterial(t *testing.T) {
	c := newClock()
	r := newRing(t, c, nil, "")
	rotateAt(t, r, c, c.Now().Add(period-2*ahead)) // two keys published
	rec := get(t, issuer.NewJWKSHandler(r, r.CacheMaxAge()), http.MethodGet, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if got := rec.Header().Get("Cache-Control"); got != "public, max-age=3600" {
		t.Fatalf("Cache-Control %q, want the publish-ahead interval", got)
	}
	if got := rec.Header().Get("Content-Type"); got != "application/jwk-set+json" {
		t.Fatalf("Content-Type %q", got)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("%d keys, want 2", len(set.Keys))
	}
	for i, k := range set.Keys {
		if k["kid"] != kids(r)[i] || k["alg"] != "ES256" || k["use"] != "sig" || k["kty"] != "EC" || k["crv"] != "P-256" {
			t.Fatalf("key %d: %v", i, k)
		}
		if _, ok := k["d"]; ok {
			t.Fatal("private key material in the JWKS")
		}
	}
}

func TestTheJWKSHandlerAnswersARevalidationWith304UntilTheKeysChange(t *testing.T) {
	c := newClock()
	r := newRing(t, c, nil, "")
	h := issuer.NewJWKSHandler(r, r.CacheMaxAge())
	etag := get(t, h, http.MethodGet, nil).Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	rec := get(t, h, http.MethodGet, map[string]string{"If-None-Match": etag})
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Fatalf("status %d, body %q; want 304 and no body", rec.Code, rec.Body)
	}
	rotateAt(t, r, c, c.Now().Add(period-2*ahead))
	rec = get(t, h, http.MethodGet, map[string]string{"If-None-Match": etag})
	if rec.Code != http.StatusOK || rec.Header().Get("ETag") == etag {
		t.Fatalf("after a rotation: status %d, ETag %q (was %q)", rec.Code, rec.Header().Get("ETag"), etag)
	}
}

func TestTheJWKSHandlerRefusesOtherMethods(t *testing.T) {
	c := newClock()
	r := newRing(t, c, nil, "")
	h := issuer.NewJWKSHandler(r, r.CacheMaxAge())
	if rec := get(t, h, http.MethodHead, nil); rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Fatalf("HEAD: %d %q", rec.Code, rec.Body)
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		rec := get(t, h, m, nil)
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" || strings.Contains(rec.Body.String(), "keys") {
			t.Fatalf("%s: %d, Allow %q, body %q", m, rec.Code, rec.Header().Get("Allow"), rec.Body)
		}
	}
}

// Each algorithm's JWKS is what tollgate's own verifier fetches and trusts.
func TestTollgatesVerifierFetchesTheJWKSAndVerifiesEachAlgorithm(t *testing.T) {
	for _, alg := range []string{issuer.ES256, issuer.EdDSA, issuer.RS256} {
		t.Run(alg, func(t *testing.T) {
			c := newClock()
			r := newRing(t, c, nil, alg)
			srv := httptest.NewServer(issuer.NewJWKSHandler(r, r.CacheMaxAge()))
			defer srv.Close()
			v, err := jwt.NewVerifier(context.Background(), jwt.Config{
				Now:            c.Now,
				Issuers:        []jwt.Issuer{{Issuer: testIssuer, JWKSURL: srv.URL, Audiences: []string{"orders-api"}, Algorithms: []string{alg}, RequiredTyp: "at+jwt"}},
				OnRefreshError: func(_ string, err error) { t.Errorf("JWKS fetch: %v", err) },
			})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			s, _ := r.Signer(c.Now())
			if _, err := v.Verify(context.Background(), signJWT(t, s, tokenClaims(c.Now()))); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestTheInProcessKeySourceSeesARotationWithoutARestart(t *testing.T) {
	c := newClock()
	t0 := c.Now()
	r := newRing(t, c, nil, "")
	v, err := jwt.NewVerifier(context.Background(), jwt.Config{
		Now:     c.Now,
		Issuers: []jwt.Issuer{{Issuer: testIssuer, KeySource: r, Audiences: []string{"orders-api"}, Algorithms: []string{"ES256"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	s1, _ := r.Signer(c.Now())
	old := signJWT(t, s1, tokenClaims(c.Now()))
	if _, err := v.Verify(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	// The successor verifies as soon as it is published, before it signs.
	rotateAt(t, r, c, t0.Add(period-2*ahead))
	s2, _ := r.Signer(t0.Add(period))
	if s2.KeyID() == s1.KeyID() {
		t.Fatal("no successor")
	}
	if _, err := v.Verify(context.Background(), signJWT(t, s2, tokenClaims(c.Now()))); err != nil {
		t.Fatalf("a token of the published successor: %v", err)
	}
	// The removed key verifies nothing, even a token still unexpired.
	rotateAt(t, r, c, t0.Add(period+maxLife+leeway))
	if _, err := v.Verify(context.Background(), signJWT(t, s1, tokenClaims(c.Now()))); err == nil {
		t.Fatal("a token of a removed key verified")
	}
}
