package ratelimit_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/ratelimit"
)

func TestKeyFuncs(t *testing.T) {
	from := func(remote string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/orders/42", nil)
		r.RemoteAddr = remote
		return r
	}
	withPrincipal := func(p *principal.Principal) *http.Request {
		r := from("192.0.2.1:1")
		return r.WithContext(principal.NewContext(r.Context(), p))
	}
	withHeader := func(name, value string) *http.Request {
		r := from("192.0.2.1:1")
		r.Header.Set(name, value)
		return r
	}
	withPattern := func(pattern string) *http.Request {
		r := from("192.0.2.1:1")
		r.Pattern = pattern
		return r
	}
	tests := []struct {
		name    string
		key     ratelimit.KeyFunc
		req     *http.Request
		want    string
		wantErr bool // no key
	}{
		{"a principal is keyed by its client id", ratelimit.KeyByPrincipal, withPrincipal(principal.New(principal.Fields{Subject: "u1", ClientID: "c1"})), "client:c1", false},
		{"a principal without client id is keyed by its subject", ratelimit.KeyByPrincipal, withPrincipal(principal.New(principal.Fields{Subject: "u1"})), "sub:u1", false},
		{"no principal, no principal key", ratelimit.KeyByPrincipal, from("192.0.2.1:1"), "", true},
		{"an IPv4 client is keyed by its address", ratelimit.KeyByIP, from("192.0.2.1:1"), "ip:192.0.2.1", false},
		{"an IPv6 client is keyed by its /64", ratelimit.KeyByIP, from("[2001:db8:1:2:3:4:5:6]:1"), "ip:2001:db8:1:2::/64", false},
		{"two addresses in one /64 share a key", ratelimit.KeyByIP, from("[2001:db8:1:2:ffff::1]:1"), "ip:2001:db8:1:2::/64", false},
		{"a v4-mapped IPv6 address is keyed as IPv4", ratelimit.KeyByIP, from("[::ffff:192.0.2.1]:1"), "ip:192.0.2.1", false},
		{"a RemoteAddr that is not an IP gives no key", ratelimit.KeyByIP, from("@"), "", true},
		{"KeyByIPPrefix groups IPv4 by the prefix chosen", ratelimit.KeyByIPPrefix(24, 48), from("192.0.2.77:1"), "ip:192.0.2.0/24", false},
		{"KeyByIPPrefix groups IPv6 by the prefix chosen", ratelimit.KeyByIPPrefix(24, 48), from("[2001:db8:1:2::1]:1"), "ip:2001:db8:1::/48", false},
		{"a header is keyed by its value", ratelimit.KeyByHeader("x-api-key"), withHeader("X-Api-Key", "k1"), "header:x-api-key:k1", false},
		{"an absent header gives no key", ratelimit.KeyByHeader("X-Api-Key"), from("192.0.2.1:1"), "", true},
		{"a route is keyed by its mux pattern", ratelimit.KeyByRoute, withPattern("GET /orders/{id}"), "route:GET /orders/{id}", false},
		{"no mux pattern, no route key (never the raw path)", ratelimit.KeyByRoute, from("192.0.2.1:1"), "", true},
		{"a bearer token is keyed by its digest, never itself", ratelimit.KeyByToken(), withHeader("Authorization", "Bearer tok-1"), "token:" + tokenDigest("tok-1"), false},
		{"the bearer scheme in any case", ratelimit.KeyByToken(), withHeader("Authorization", "bEARER tok-1"), "token:" + tokenDigest("tok-1"), false},
		{"an API key header is keyed by its digest", ratelimit.KeyByToken("x-api-key"), withHeader("X-Api-Key", "mt_live_1"), "token:" + tokenDigest("mt_live_1"), false},
		{"another scheme is no token", ratelimit.KeyByToken(), withHeader("Authorization", "Basic dTpw"), "", true},
		{"the spaces after the scheme are skipped, as Authenticate skips them", ratelimit.KeyByToken(), withHeader("Authorization", "Bearer   tok-1"), "token:" + tokenDigest("tok-1"), false},
		{"a scheme that starts with Bearer is another scheme", ratelimit.KeyByToken(), withHeader("Authorization", "Bearerish tok-1"), "", true},
		{"a bearer without a token falls back to the API key header", ratelimit.KeyByToken("X-Api-Key"), func() *http.Request {
			r := withHeader("Authorization", "Bearer  ")
			r.Header.Set("X-Api-Key", "mt_live_1")
			return r
		}(), "token:" + tokenDigest("mt_live_1"), false},
		{"no credential, no token key", ratelimit.KeyByToken("X-Api-Key"), from("192.0.2.1:1"), "", true},
		{"a router's own pattern is keyed with the method", ratelimit.KeyByRoutePattern(func(*http.Request) string { return "/orders/{id}" }), from("192.0.2.1:1"), "route:GET /orders/{id}", false},
		{"an empty router pattern gives no key", ratelimit.KeyByRoutePattern(func(*http.Request) string { return "" }), from("192.0.2.1:1"), "", true},
		{"FirstKey falls back in order", ratelimit.FirstKey(ratelimit.KeyByPrincipal, ratelimit.KeyByIP), from("192.0.2.1:1"), "ip:192.0.2.1", false},
		{"JoinKeys combines every part with its length", ratelimit.JoinKeys(ratelimit.KeyByIP, ratelimit.KeyByRoute), withPattern("GET /x"), "12:ip:192.0.2.1|12:route:GET /x", false},
		{"JoinKeys has no key if a part has none", ratelimit.JoinKeys(ratelimit.KeyByIP, ratelimit.KeyByRoute), from("192.0.2.1:1"), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.key(tt.req)
			if ok == tt.wantErr || got != tt.want {
				t.Errorf("key = %q, %v; want %q, %v", got, ok, tt.want, !tt.wantErr)
			}
		})
	}
}

func TestKeyByRouteSharesABucketAcrossPathParameters(t *testing.T) {
	mux := http.NewServeMux()
	limit := ratelimit.New(ratelimit.Config{
		Limits: []ratelimit.Limit{{Events: 1, Per: 60e9}},
		Key:    ratelimit.KeyByRoute,
		Now:    newClock().Now,
	})
	mux.Handle("GET /orders/{id}", limit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	codes := []int{}
	for _, path := range []string{"/orders/1", "/orders/2"} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		codes = append(codes, w.Code)
	}
	if codes[0] != http.StatusOK || codes[1] != http.StatusTooManyRequests {
		t.Errorf("statuses = %v, want [200 429]: one bucket for the route", codes)
	}
}

func tokenDigest(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// Two tokens of one client get two buckets.
func TestKeyByTokenGivesEachTokenItsOwnBucket(t *testing.T) {
	req := func(tok string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		return r
	}
	a, _ := ratelimit.KeyByToken()(req("tok-1"))
	b, _ := ratelimit.KeyByToken()(req("tok-2"))
	if a == b || strings.Contains(a, "tok-1") {
		t.Fatalf("keys %q and %q", a, b)
	}
}

// A token is keyed without being copied: the key string is the one
// allocation, whatever the token's length.
func TestKeyByTokenAllocatesOnlyTheKey(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	r.Header.Set("Authorization", "Bearer "+strings.Repeat("a", 700))
	key := ratelimit.KeyByToken()
	if allocs := testing.AllocsPerRun(100, func() { key(r) }); allocs != 1 {
		t.Errorf("KeyByToken allocates %v times for a 700-byte token, want 1 (the key)", allocs)
	}
}
