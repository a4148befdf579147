package jwt

import (
	"context"
	stderrors "errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/internal/discovery"
)

// metadataServer is an issuer's metadata endpoint for tests: it answers
// path with the document doc returns, given the server's URL, and 404
// elsewhere, and counts the requests.
type metadataServer struct {
	*httptest.Server
	requests atomic.Int64
	mu       sync.Mutex
	path     string
	doc      func(base string) string
}

func newMetadataServer(t *testing.T, path string, doc func(base string) string) *metadataServer {
	m := &metadataServer{path: path, doc: doc}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.requests.Add(1)
		m.mu.Lock()
		path, doc := m.path, m.doc
		m.mu.Unlock()
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(doc(m.URL)))
	}))
	t.Cleanup(m.Close)
	return m
}

func (m *metadataServer) setDoc(doc func(base string) string) {
	m.mu.Lock()
	m.doc = doc
	m.mu.Unlock()
}

func metadata(issuer, jwksURI string) string {
	return `{"issuer":"` + issuer + `","jwks_uri":"` + jwksURI + `"}`
}

// discoveredIssuer is an issuer configured by its identifier alone.
func discoveredIssuer(issuer string) Issuer {
	return Issuer{Issuer: issuer, Audiences: []string{testAudience}, Algorithms: []string{"RS256", "ES256", "EdDSA"}}
}

func TestIssuerWithoutKeySourceDiscoversItsJWKSURI(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock) // serves /.well-known/openid-configuration naming its JWKS
	v, rec := newVerifier(t, clock, Config{Issuers: []Issuer{discoveredIssuer(iss.URL())}})
	if rec.count() != 0 {
		t.Fatalf("start-up fetch failed: %v", rec.errs)
	}
	mustVerify(t, v, iss.Mint(claims(nil)))
	if got := iss.FetchCount(); got != 1 {
		t.Errorf("JWKS fetches = %d, want 1", got)
	}
}

func TestDiscoveryFallsBackToRFC8414ForAPathIssuer(t *testing.T) {
	clock := newTestClock()
	keys := newIssuer(t, clock)
	m := newMetadataServer(t, discovery.OAuthPath+"/tenant/a", func(base string) string {
		return metadata(base+"/tenant/a", keys.JWKSURL())
	})
	v, rec := newVerifier(t, clock, Config{Issuers: []Issuer{discoveredIssuer(m.URL + "/tenant/a")}})
	if rec.count() != 0 {
		t.Fatalf("start-up fetch failed: %v", rec.errs)
	}
	mustVerify(t, v, keys.Mint(claims(map[string]any{"iss": m.URL + "/tenant/a"})))
	if got := m.requests.Load(); got != 2 {
		t.Errorf("metadata requests = %d, want 2 (OpenID 404, then RFC 8414)", got)
	}
}

// TestDiscoveryFailureMakesTheIssuerUnavailable covers the metadata a
// verifier must not trust: the issuer's tokens get 503, as when its keys
// cannot be fetched, and the key set is never asked for.
func TestDiscoveryFailureMakesTheIssuerUnavailable(t *testing.T) {
	tests := []struct {
		name      string
		issuerFor func(base string) string // the configured issuer
		doc       func(base, jwks string) string
		maxBytes  int64
		cause     error
	}{
		{name: "metadata naming another issuer",
			doc: func(_, jwks string) string { return metadata("https://evil.example", jwks) }, cause: discovery.ErrIssuerMismatch},
		{name: "metadata naming the issuer with a trailing slash",
			doc: func(base, jwks string) string { return metadata(base+"/", jwks) }, cause: discovery.ErrIssuerMismatch},
		{name: "metadata naming the issuer without its trailing slash",
			issuerFor: func(base string) string { return base + "/" },
			doc:       func(base, jwks string) string { return metadata(base, jwks) }, cause: discovery.ErrIssuerMismatch},
		{name: "jwks_uri on plain http to a host not loopback",
			doc: func(base, _ string) string { return metadata(base, "http://keys.example.com/jwks") }},
		{name: "jwks_uri missing",
			doc: func(base, _ string) string { return `{"issuer":"` + base + `"}` }},
		{name: "metadata over the size cap",
			doc: func(base, jwks string) string {
				return `{"issuer":"` + base + `","jwks_uri":"` + jwks + `","pad":"` + strings.Repeat("x", 8<<10) + `"}`
			}, maxBytes: 6 << 10, cause: discovery.ErrTooLarge},
		{name: "metadata with a repeated member",
			doc: func(base, jwks string) string {
				return `{"issuer":"` + base + `","jwks_uri":"http://127.0.0.1:1/evil","jwks_uri":"` + jwks + `"}`
			}, cause: discovery.ErrDocument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock()
			keys := newIssuer(t, clock)
			m := newMetadataServer(t, "/.well-known/openid-configuration", func(base string) string { return tt.doc(base, keys.JWKSURL()) })
			issuer := m.URL
			if tt.issuerFor != nil {
				issuer = tt.issuerFor(m.URL)
				m.mu.Lock()
				m.path = strings.TrimSuffix(strings.TrimPrefix(issuer, m.URL), "/") + "/.well-known/openid-configuration"
				m.mu.Unlock()
			}
			v, rec := newVerifier(t, clock, Config{Issuers: []Issuer{discoveredIssuer(issuer)}, MaxJWKSBytes: tt.maxBytes})
			if rec.count() != 1 {
				t.Fatalf("OnRefreshError calls = %d, want 1", rec.count())
			}
			if tt.cause != nil && !stderrors.Is(rec.errs[0], tt.cause) {
				t.Errorf("refresh error = %v, want %v", rec.errs[0], tt.cause)
			}
			p, err := v.Verify(context.Background(), keys.Mint(claims(map[string]any{"iss": issuer})))
			wantRefusal(t, p, err, tgerrors.Unavailable, errJWKSUnavailable)
			if got := keys.FetchCount(); got != 0 {
				t.Errorf("JWKS fetches = %d, want 0", got)
			}
		})
	}
}

func TestDiscoveryRecoversUnderTheCooldownRules(t *testing.T) {
	clock := newTestClock()
	keys := newIssuer(t, clock)
	m := newMetadataServer(t, "/.well-known/openid-configuration", func(string) string { return `{"issuer":"https://evil.example"}` })
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{discoveredIssuer(m.URL)}, UnknownKIDCooldown: time.Minute})
	token := keys.Mint(claims(map[string]any{"iss": m.URL, "exp": clock.Now().Add(2 * time.Hour).Unix()}))

	p, err := v.Verify(context.Background(), token)
	wantRefusal(t, p, err, tgerrors.Unavailable, errJWKSUnavailable)
	if got := m.requests.Load(); got != 2 {
		t.Errorf("metadata requests = %d, want 2 (start-up, then one for the token)", got)
	}

	// Without a usable key set no cooldown holds: the next token finds the
	// metadata fixed.
	m.setDoc(func(base string) string { return metadata(base, keys.JWKSURL()) })
	mustVerify(t, v, token)
	if got := m.requests.Load(); got != 3 {
		t.Errorf("metadata requests = %d, want 3", got)
	}

	// With one, a token of an unknown kid fetches once per cooldown, which
	// the fetch that found the keys started.
	unknown := keys.Mint(claims(map[string]any{"iss": m.URL, "exp": clock.Now().Add(2 * time.Hour).Unix()}), authtest.WithKID("unknown"))
	for range 2 {
		p, err = v.Verify(context.Background(), unknown)
		wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTNoKey)
	}
	if got := m.requests.Load(); got != 3 {
		t.Errorf("metadata requests for unknown kids within the cooldown = %d, want 3", got)
	}
	clock.Advance(time.Minute)
	p, err = v.Verify(context.Background(), unknown)
	wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTNoKey)
	if got := m.requests.Load(); got != 4 {
		t.Errorf("metadata requests after the cooldown = %d, want 4", got)
	}
}

func TestMovedJWKSURIIsFollowedOnRefresh(t *testing.T) {
	clock := newTestClock()
	before, after := newIssuer(t, clock), newIssuer(t, clock)
	m := newMetadataServer(t, "/.well-known/openid-configuration", func(base string) string { return metadata(base, before.JWKSURL()) })
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{discoveredIssuer(m.URL)}})
	old := before.Mint(claims(map[string]any{"iss": m.URL}))
	mustVerify(t, v, old)

	m.setDoc(func(base string) string { return metadata(base, after.JWKSURL()) })
	if err := v.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := m.requests.Load(); got != 2 {
		t.Errorf("metadata requests = %d, want 2 (start-up, refresh)", got)
	}
	if before.FetchCount() != 1 || after.FetchCount() != 1 {
		t.Errorf("JWKS fetches: old URI %d, new URI %d; want 1 and 1", before.FetchCount(), after.FetchCount())
	}
	mustVerify(t, v, after.Mint(claims(map[string]any{"iss": m.URL})))
	p, err := v.Verify(context.Background(), old)
	wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTNoKey)
}

func TestExplicitJWKSURLWinsOverDiscovery(t *testing.T) {
	clock := newTestClock()
	keys := newIssuer(t, clock)
	m := newMetadataServer(t, "/.well-known/openid-configuration", func(base string) string { return metadata(base, "https://evil.example/jwks") })
	is := discoveredIssuer(m.URL)
	is.JWKSURL = keys.JWKSURL()
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{is}})
	mustVerify(t, v, keys.Mint(claims(map[string]any{"iss": m.URL})))
	if err := v.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := m.requests.Load(); got != 0 {
		t.Errorf("metadata requests = %d, want 0", got)
	}
}

func TestDiscoveryRedirectsObeyTheKeySetRedirectPolicy(t *testing.T) {
	clock := newTestClock()
	keys := newIssuer(t, clock)
	elsewhere := newMetadataServer(t, "/.well-known/openid-configuration", func(string) string { return "" })
	srv := httptest.NewServer(http.RedirectHandler(elsewhere.URL+"/.well-known/openid-configuration", http.StatusFound))
	t.Cleanup(srv.Close)
	elsewhere.setDoc(func(string) string { return metadata(srv.URL, keys.JWKSURL()) })
	v, rec := newVerifier(t, clock, Config{Issuers: []Issuer{discoveredIssuer(srv.URL)}})
	if rec.count() != 1 {
		t.Fatalf("OnRefreshError calls = %d, want 1", rec.count())
	}
	if got := elsewhere.requests.Load(); got != 0 {
		t.Errorf("the redirect to another origin was followed (%d requests)", got)
	}
	p, err := v.Verify(context.Background(), keys.Mint(claims(map[string]any{"iss": srv.URL})))
	wantRefusal(t, p, err, tgerrors.Unavailable, errJWKSUnavailable)
}

func TestDiscoveredJWKSURIRedirectsObeyTheKeySetRedirectPolicy(t *testing.T) {
	clock := newTestClock()
	keys := newIssuer(t, clock)
	redirector := httptest.NewServer(http.RedirectHandler(keys.JWKSURL(), http.StatusFound))
	t.Cleanup(redirector.Close)
	m := newMetadataServer(t, "/.well-known/openid-configuration", func(base string) string { return metadata(base, redirector.URL+"/jwks") })
	v, rec := newVerifier(t, clock, Config{Issuers: []Issuer{discoveredIssuer(m.URL)}})
	if rec.count() != 1 {
		t.Fatalf("OnRefreshError calls = %d, want 1", rec.count())
	}
	if got := keys.FetchCount(); got != 0 {
		t.Errorf("the redirect to another origin was followed (%d fetches)", got)
	}
	p, err := v.Verify(context.Background(), keys.Mint(claims(map[string]any{"iss": m.URL})))
	wantRefusal(t, p, err, tgerrors.Unavailable, errJWKSUnavailable)
}
