package apikey_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/apikey"
	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/scopes"
)

// The verifier behind tollgate's chain: API keys refused by the kind the
// provider distinguishes, tenant headers bound to the key, per-key rate
// limits, and a store outage that fails closed. The handler is reached only
// by admitted requests.
func TestKeysThroughTheChain(t *testing.T) {
	clock := authtest.NewClock(start)
	store := &countingStore{Store: apikey.NewMemoryStore()}
	k := newKeys(t, store, clock)
	ctx := context.Background()
	s := spec()
	s.RateLimit = &ratelimit.Limit{Events: 2, Per: time.Minute}
	_, good := create(t, k, s)
	inactiveKey, inactive := create(t, k, spec())
	_, _ = k.Deactivate(ctx, inactiveKey.ID)
	expiring := spec()
	expiring.ExpiresAt = start.Add(time.Minute)
	_, expired := create(t, k, expiring)
	readOnly := spec()
	readOnly.Permissions = []string{"can_read_order"}
	_, reader := create(t, k, readOnly)
	clock.Advance(time.Minute)

	reached := 0
	api := middleware.Chain(
		tgerrors.Use(tgerrors.Problem),
		middleware.Authenticate(middleware.JWTOrOpaque(nil, k), middleware.OnRefusal(nil)),
		ratelimit.New(ratelimit.Config{Limits: []ratelimit.Limit{{Events: 100, Per: time.Minute}}, LimitFor: k.LimitFor, Now: clock.Now}),
		middleware.RequireType("merchant"),
		middleware.RequireTenant("X-Organization-Id", "org_id"),
		middleware.RequireTenant("X-App-Id", "app_id"),
		scopes.Require("can_write_order"),
	)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached++
		p, _ := principal.From(r.Context())
		w.Write([]byte(p.Subject()))
	}))
	call := func(token, org string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/orders", nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		r.Header.Set("X-Organization-Id", org)
		r.Header.Set("X-App-Id", "app_1")
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		return w
	}
	cases := []struct {
		name, token, org string
		status           int
		code             string // the problem's "code" member
		limit            string // X-RateLimit-Limit, if any
	}{
		{"an active key", good, "org_1", 200, "", "2"},
		{"no token", "", "org_1", 401, "missing_token", ""},
		{"an inactive key", inactive, "org_1", 401, "invalid_token", ""},
		{"an expired key", expired, "org_1", 401, "expired_token", ""},
		{"a bad checksum", good[:len(good)-1] + otherThan(good[len(good)-1]), "org_1", 401, "invalid_token", ""},
		{"a JWT with no JWT verifier", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "org_1", 401, "invalid_token", ""},
		{"another organization", good, "org_2", 403, "forbidden", "2"},
		{"a missing permission", reader, "org_1", 403, "insufficient_scope", "100"},
		{"the key's own limit spent", good, "org_1", 429, "rate_limited", "2"},
	}
	for _, c := range cases {
		before := reached
		w := call(c.token, c.org)
		if w.Code != c.status {
			t.Fatalf("%s: status %d, want %d: %s", c.name, w.Code, c.status, w.Body)
		}
		if c.status == 200 {
			if reached != before+1 || w.Body.String() != "mer_1" {
				t.Fatalf("%s: handler reached %d times, body %q", c.name, reached-before, w.Body)
			}
			continue
		}
		if reached != before {
			t.Fatalf("%s: the handler was reached", c.name)
		}
		var body struct{ Code string }
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Code != c.code {
			t.Fatalf("%s: body %s, want code %q", c.name, w.Body, c.code)
		}
		if got := w.Header().Get("X-RateLimit-Limit"); got != c.limit {
			t.Fatalf("%s: X-RateLimit-Limit %q, want %q", c.name, got, c.limit)
		}
		if w.Code == 401 && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("%s: 401 without a Bearer challenge", c.name)
		}
		if c.token != "" && strings.Contains(w.Body.String()+strings.Join(w.Header().Values("WWW-Authenticate"), ""), c.token) {
			t.Fatalf("%s: the token was echoed", c.name)
		}
	}
	lookups := store.lookups.Load()
	store.fail.Store(true)
	clock.Advance(time.Hour) // past CacheTTL: the next request needs the store
	if w := call(reader, "org_1"); w.Code != 503 || reached != 1 {
		t.Fatalf("with the store down: %d %s, handler reached %d", w.Code, w.Body, reached)
	}
	if store.lookups.Load() != lookups+1 {
		t.Fatal("the store was not asked")
	}
}

// LimitFor reads only the principals its own verifier made: a JWT from a
// trusted issuer that carries claims of the same names keeps the default.
func TestLimitForIgnoresOtherVerifiersPrincipals(t *testing.T) {
	k := newKeys(t, apikey.NewMemoryStore(), authtest.NewClock(start))
	jwt := principal.New(principal.Fields{Issuer: "https://auth.example.com/", Type: "merchant",
		Claims: map[string]any{"rate_limit": 1e6, "rate_limit_per": 1.0}})
	if l := k.LimitFor(nil, jwt); l != nil {
		t.Fatalf("a JWT's claims gave the limit %v", l)
	}
}

// Behind JWTOrOpaque, a token of a prefix the verifier does not know, or
// with a wrong checksum, is refused without a store lookup.
func TestUnknownPrefixesNeverReachTheStore(t *testing.T) {
	store := &countingStore{Store: apikey.NewMemoryStore()}
	k := newKeys(t, store, authtest.NewClock(start))
	_, token := create(t, k, spec())
	h := middleware.Authenticate(middleware.JWTOrOpaque(nil, k), middleware.OnRefusal(nil))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("the handler was reached")
	}))
	for _, bad := range []string{"sk_live_" + token[8:], "mt_prod_" + token[8:], token[:len(token)-1] + otherThan(token[len(token)-1]), "ghp_" + token[8:]} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+bad)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 401 {
			t.Fatalf("%q: %d", bad, w.Code)
		}
	}
	if n := store.lookups.Load(); n != 0 {
		t.Fatalf("%d store lookups, want 0", n)
	}
}

// otherThan returns a base62 character other than c.
func otherThan(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}
