package jwt

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
)

func TestRotatedKeyIsFetchedOnceAndTheRemovedKeyStopsWorking(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}})
	old := iss.Mint(claims(nil))
	mustVerify(t, v, old)
	if got := iss.FetchCount(); got != 1 {
		t.Fatalf("fetches after start-up = %d, want 1", got)
	}

	iss.Rotate()
	mustVerify(t, v, iss.Mint(claims(nil)))
	if got := iss.FetchCount(); got != 2 {
		t.Errorf("fetches after the new kid = %d, want 2", got)
	}
	// The old token was cached; the key set changed, so the cache entry is
	// dropped and the token, whose key is gone, is refused.
	p, err := v.Verify(context.Background(), old)
	wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTNoKey)
	if got := iss.FetchCount(); got != 2 {
		t.Errorf("fetches after the old kid = %d, want 2 (cooldown)", got)
	}
}

func TestKeyRemovedFromTheSetStopsWorkingAfterTheNextRefresh(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}})
	token := iss.Mint(claims(nil))
	first := mustVerify(t, v, token)
	if again := mustVerify(t, v, token); again != first {
		t.Fatal("second verification was not served from the cache")
	}
	iss.Rotate()
	if err := v.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(context.Background(), token)
	wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTNoKey)
}

func TestRefreshWithTheSameKeysKeepsTheCache(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}})
	token := iss.Mint(claims(nil))
	first := mustVerify(t, v, token)
	if err := v.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if again := mustVerify(t, v, token); again != first {
		t.Error("an unchanged key set dropped the cached token")
	}
}

func TestUnknownKIDFloodFetchesAtMostOncePerCooldown(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}, UnknownKIDCooldown: time.Minute})
	flood := func(n int) {
		for i := range n {
			p, err := v.Verify(context.Background(), iss.Mint(claims(nil), authtest.WithKID(fmt.Sprintf("made-up-%d", i))))
			wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTNoKey)
		}
	}
	flood(200)
	if got := iss.FetchCount(); got != 2 {
		t.Errorf("fetches = %d, want 2 (start-up, then one for the flood)", got)
	}
	clock.Advance(59 * time.Second)
	flood(50)
	if got := iss.FetchCount(); got != 2 {
		t.Errorf("fetches within the cooldown = %d, want 2", got)
	}
	clock.Advance(time.Second)
	flood(50)
	if got := iss.FetchCount(); got != 3 {
		t.Errorf("fetches after the cooldown = %d, want 3", got)
	}
}

func TestThousandConcurrentRequestsWithANewKIDShareOneFetch(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}, CacheSize: -1})
	iss.Rotate()
	before := iss.FetchCount()
	tokens := make([]string, 1000)
	for i := range tokens {
		tokens[i] = iss.Mint(claims(map[string]any{"jti": fmt.Sprint(i)}))
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, len(tokens))
	for _, tok := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if _, err := v.Verify(context.Background(), tok); err != nil {
				errs <- err
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("refused: %v", err)
		break
	}
	if got := iss.FetchCount() - before; got != 1 {
		t.Errorf("fetches = %d, want 1", got)
	}
}

func TestJWKSOutage(t *testing.T) {
	const refresh, stale = time.Hour, 10 * time.Minute
	clock := newTestClock()
	iss := newIssuer(t, clock)
	v, rec := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}, RefreshInterval: refresh, StaleLimit: stale})
	cached := iss.Mint(claims(map[string]any{"exp": clock.Now().Add(24 * time.Hour).Unix()}))
	mustVerify(t, v, cached)

	iss.SetFailing(http.StatusServiceUnavailable)
	if err := v.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh reported no error from a failing JWKS")
	}
	if rec.count() != 1 {
		t.Errorf("OnRefreshError calls = %d, want 1", rec.count())
	}

	clock.Advance(refresh + stale - time.Second)
	t.Run("within the stale limit the last good keys keep verifying", func(t *testing.T) {
		mustVerify(t, v, iss.Mint(claims(nil)))
		mustVerify(t, v, cached)
	})

	clock.Advance(2 * time.Second)
	t.Run("past the stale limit every token of the issuer is unavailable", func(t *testing.T) {
		p, err := v.Verify(context.Background(), iss.Mint(claims(nil)))
		wantRefusal(t, p, err, tgerrors.Unavailable, errJWKSUnavailable)
		p, err = v.Verify(context.Background(), cached)
		wantRefusal(t, p, err, tgerrors.Unavailable, errJWKSUnavailable)
		if tgerrors.From(err).HTTPStatus() != http.StatusServiceUnavailable {
			t.Errorf("status = %d", tgerrors.From(err).HTTPStatus())
		}
	})

	t.Run("a successful fetch restores service", func(t *testing.T) {
		iss.SetFailing(0)
		clock.Advance(time.Minute) // past the cooldown of the fetch the last request caused
		mustVerify(t, v, iss.Mint(claims(nil)))
		mustVerify(t, v, cached)
	})
}

func TestJWKSNeverFetchedIsUnavailable(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	iss.SetFailing(http.StatusInternalServerError)
	v, rec := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}, UnknownKIDCooldown: time.Minute})
	if rec.count() != 1 {
		t.Errorf("start-up failure reported %d times, want 1", rec.count())
	}
	token := iss.Mint(claims(nil))
	p, err := v.Verify(context.Background(), token)
	wantRefusal(t, p, err, tgerrors.Unavailable, errJWKSUnavailable)
	if got := iss.FetchCount(); got != 2 {
		t.Errorf("fetches = %d, want 2 (start-up, then the first token)", got)
	}
	p, err = v.Verify(context.Background(), token)
	wantRefusal(t, p, err, tgerrors.Unavailable, errJWKSUnavailable)
	if got := iss.FetchCount(); got != 3 {
		t.Errorf("fetches = %d, want 3: without a usable key set no cooldown holds", got)
	}
	t.Run("an unknown issuer is still invalid, not unavailable", func(t *testing.T) {
		p, err := v.Verify(context.Background(), iss.Mint(claims(map[string]any{"iss": "https://other.test"})))
		wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTUnknownIssuer)
	})
	iss.SetFailing(0)
	mustVerify(t, v, token)
}

func weakRSAJWK(t *testing.T) string {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	return fmt.Sprintf(`{"keys":[{"kty":"RSA","kid":"weak","n":%q,"e":%q}]}`,
		enc.EncodeToString(k.N.Bytes()), enc.EncodeToString(big.NewInt(int64(k.E)).Bytes()))
}

func TestFailedRefreshKeepsTheLastGoodKeySet(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	good := string(iss.JWKS())
	rsaJWK := good[strings.Index(good, "[")+1 : strings.Index(good, "},")+1]
	tests := []struct {
		name  string
		setup func()
	}{
		{"500", func() { iss.SetFailing(http.StatusInternalServerError) }},
		{"404", func() { iss.SetFailing(http.StatusNotFound) }},
		{"garbage", func() { iss.SetBody([]byte("<html>maintenance</html>")) }},
		{"empty body", func() { iss.SetBody([]byte{}) }},
		{"JSON null", func() { iss.SetBody([]byte("null")) }},
		{"no keys member", func() { iss.SetBody([]byte(`{"key":[]}`)) }},
		{"empty key set", func() { iss.SetBody([]byte(`{"keys":[]}`)) }},
		{"a key of an unknown type", func() { iss.SetBody([]byte(`{"keys":[` + rsaJWK + `,{"kty":"PQC","kid":"x"}]}`)) }},
		{"a symmetric key", func() { iss.SetBody([]byte(`{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0"}]}`)) }},
		{"a malformed RSA key", func() { iss.SetBody([]byte(`{"keys":[{"kty":"RSA","kid":"m","n":"!!","e":"AQAB"}]}`)) }},
		{"an RSA key of 1024 bits", func() { iss.SetBody([]byte(weakRSAJWK(t))) }},
		{"a kid used twice", func() { iss.SetBody([]byte(`{"keys":[` + rsaJWK + `,` + rsaJWK + `]}`)) }},
		{"only encryption keys", func() {
			iss.SetBody([]byte(`{"keys":[` + strings.Replace(rsaJWK, `"use":"sig"`, `"use":"enc"`, 1) + `]}`))
		}},
		{"a body over MaxJWKSBytes", func() { iss.SetBody([]byte(`{"keys":[` + rsaJWK + `],"pad":"` + strings.Repeat("x", 64<<10) + `"}`)) }},
		{"a timeout", func() { iss.SetStalled(true) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, rec := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}, MaxJWKSBytes: 32 << 10, FetchTimeout: 200 * time.Millisecond})
			token := iss.Mint(claims(map[string]any{"jti": tt.name}))
			mustVerify(t, v, token)
			tt.setup()
			defer func() { iss.SetFailing(0); iss.SetBody(nil); iss.SetStalled(false) }()
			if err := v.Refresh(context.Background()); err == nil {
				t.Fatal("Refresh accepted the bad key set")
			}
			if rec.count() != 1 {
				t.Errorf("OnRefreshError calls = %d, want 1", rec.count())
			}
			mustVerify(t, v, token)
			mustVerify(t, v, iss.Mint(claims(map[string]any{"jti": tt.name + "-2"})))
		})
	}
}

func TestJWKSSkipsKeysItCannotUse(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	good := string(iss.JWKS())
	body := strings.Replace(good, `{"keys":[`, `{"keys":[{"kty":"RSA","use":"enc","kid":"e","n":"AQAB","e":"AQAB"},{"kty":"EC","alg":"ECDH-ES","kid":"x","crv":"P-256"},`, 1)
	iss.SetBody([]byte(body))
	v, rec := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}})
	if rec.count() != 0 {
		t.Fatalf("refresh failed: %v", rec.errs)
	}
	mustVerify(t, v, iss.Mint(claims(nil)))
}

func TestCacheControlMaxAgeIsHonouredWithinBounds(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)},
		RefreshInterval: 30 * time.Minute, MinRefreshInterval: time.Minute, MaxRefreshInterval: time.Hour})
	r := v.remotes[0]
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", 30 * time.Minute},
		{"public, max-age=600", 10 * time.Minute},
		{"max-age=5", time.Minute},
		{"max-age=999999999", time.Hour},
		{"no-cache", time.Minute},
		{"max-age=junk", 30 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			iss.SetCacheControl(tt.header)
			if err := v.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			r.mu.Lock()
			got := r.nextRefresh
			r.mu.Unlock()
			if got != tt.want {
				t.Errorf("next refresh in %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFetchTimeoutBoundsAStalledJWKS(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	iss.SetStalled(true)
	v, rec := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}, FetchTimeout: 100 * time.Millisecond})
	if rec.count() != 1 {
		t.Fatalf("start-up fetch against a stalled JWKS reported %d errors, want 1", rec.count())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p, err := v.Verify(ctx, iss.Mint(claims(nil)))
	wantRefusal(t, p, err, tgerrors.Unavailable, nil)
}

func TestCloseStopsTheBackgroundRefresh(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	ctx, cancel := context.WithCancel(context.Background())
	v, err := NewVerifier(ctx, Config{Issuers: []Issuer{jwksIssuer(iss)}, Now: clock.Now, OnRefreshError: func(string, error) {}})
	if err != nil {
		t.Fatal(err)
	}
	token := iss.Mint(claims(nil))
	mustVerify(t, v, token)
	cancel()
	if err := v.Close(); err != nil { // returns once every goroutine is done
		t.Fatal(err)
	}
	_ = v.Close()
	if err := v.Refresh(context.Background()); err == nil {
		t.Error("Refresh after Close fetched")
	}
	before := iss.FetchCount()
	p, err := v.Verify(context.Background(), iss.Mint(claims(nil), authtest.WithKID("new")))
	wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTNoKey)
	if iss.FetchCount() != before {
		t.Error("a closed verifier fetched keys")
	}
	mustVerify(t, v, iss.Mint(claims(nil)))
}

func TestDefaultClientDoesNotFollowARedirectOffHTTPS(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://idp.example.com/jwks", http.StatusFound)
	}))
	defer srv.Close()
	cfg := jwksIssuer(iss)
	cfg.JWKSURL = srv.URL
	v, rec := newVerifier(t, clock, Config{Issuers: []Issuer{cfg}})
	if rec.count() != 1 || !strings.Contains(rec.errs[0].Error(), "https") {
		t.Fatalf("refresh errors = %v, want one about https", rec.errs)
	}
	p, err := v.Verify(context.Background(), iss.Mint(claims(nil)))
	wantRefusal(t, p, err, tgerrors.Unavailable, errJWKSUnavailable)
}

func TestAKeyRemovedFromAKIDLessSetStopsWorkingThoughTheNewSetRepeatsAKey(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(iss.JWKS(), &doc); err != nil {
		t.Fatal(err)
	}
	byAlg := map[string]map[string]any{}
	for _, k := range doc.Keys {
		delete(k, "kid")
		byAlg[k["alg"].(string)] = k
	}
	rsaKey, ecKey := byAlg[authtest.RS256], byAlg[authtest.ES256]
	if rsaKey == nil || ecKey == nil {
		t.Fatalf("authtest JWKS without an RS256 and an ES256 key: %s", iss.JWKS())
	}
	setOf := func(keys ...map[string]any) []byte {
		b, err := json.Marshal(map[string]any{"keys": keys})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	iss.SetBody(setOf(rsaKey, ecKey))
	v, rec := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss, "RS256", "ES256")}})
	if rec.count() != 0 {
		t.Fatalf("refresh errors: %v", rec.errs)
	}
	mint := func(jti string) string {
		return iss.Mint(claims(map[string]any{"jti": jti}), authtest.WithAlg(authtest.ES256), authtest.WithKID(""))
	}
	cached := mint("cached")
	mustVerify(t, v, cached)

	// The EC key is removed; the new set holds the RSA key twice. Same
	// length, and each new key is in the old set: not the same keys still.
	iss.SetBody(setOf(rsaKey, rsaKey))
	if err := v.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(context.Background(), cached)
	wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTNoKey)
	p, err = v.Verify(context.Background(), mint("fresh"))
	wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTNoKey)
}

func TestSameKeysComparesKeySetsAsMultisets(t *testing.T) {
	a := &verifyKey{ed: make(ed25519.PublicKey, ed25519.PublicKeySize)}
	bKey := make(ed25519.PublicKey, ed25519.PublicKeySize)
	bKey[0] = 1
	b := &verifyKey{ed: bKey}
	aKID := &verifyKey{kid: "a", ed: a.ed}
	set := func(keys ...*verifyKey) *keySet { return &keySet{keys: keys} }
	tests := []struct {
		name string
		s, o *keySet
		want bool
	}{
		{"same keys", set(a, b), set(a, b), true},
		{"same keys in another order", set(a, b), set(b, a), true},
		{"same key twice on both sides", set(a, a), set(a, a), true},
		{"a key repeated in place of a removed one", set(a, a), set(a, b), false},
		{"a removed key repeated in place of another", set(a, b), set(a, a), false},
		{"same key material under another kid", set(aKID), set(a), false},
		{"different lengths", set(a), set(a, a), false},
		{"no old set", set(a), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.sameKeys(tt.o); got != tt.want {
				t.Errorf("sameKeys = %v, want %v", got, tt.want)
			}
		})
	}
}
