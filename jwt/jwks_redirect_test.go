package jwt

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
)

// redirector answers every request with a 302 to target(r).
func redirector(t *testing.T, tls bool, target func(r *http.Request) string) *httptest.Server {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target(r), http.StatusFound)
	})
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return srv
}

// jwksServer serves iss's key set at every path.
func jwksServer(t *testing.T, iss *authtest.Issuer, tls bool) *httptest.Server {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(iss.JWKS())
	})
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return srv
}

func hostPort(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// redirectOutcome builds a verifier whose JWKS URL is jwksURL and reports
// whether the issuer's tokens verify; refused is the fetch error, if any.
func redirectOutcome(t *testing.T, iss *authtest.Issuer, clock *testClock, jwksURL string, cfg Config) (verifies bool, refused error) {
	t.Helper()
	is := jwksIssuer(iss)
	is.JWKSURL = jwksURL
	cfg.Issuers = []Issuer{is}
	v, rec := newVerifier(t, clock, cfg)
	p, err := v.Verify(context.Background(), iss.Mint(claims(nil)))
	if rec.count() > 0 {
		refused = rec.errs[0]
	}
	if err != nil {
		wantRefusal(t, p, err, tgerrors.Unavailable, errJWKSUnavailable)
		if refused == nil {
			t.Fatal("tokens refused, but no fetch failed")
		}
		return false, refused
	}
	return true, refused
}

func TestJWKSRedirectsStayOnTheJWKSURLsOrigin(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	keys := jwksServer(t, iss, false) // another port: another origin
	tests := []struct {
		name    string
		target  func(r *http.Request) string // where /jwks redirects; /keys serves the set
		allowed func() []string
		want    bool
		why     string
	}{
		{
			name:   "to another path of the same origin",
			target: func(r *http.Request) string { return "/keys" },
			want:   true,
		},
		{
			name:   "to another port of the same host",
			target: func(r *http.Request) string { return keys.URL + "/jwks" },
			why:    "JWKSRedirectHosts",
		},
		{
			name: "to the same port under another host name",
			target: func(r *http.Request) string {
				return "http://localhost:" + r.Host[strings.LastIndex(r.Host, ":")+1:] + "/keys"
			},
			why: "JWKSRedirectHosts",
		},
		{
			name:    "to a listed host and port",
			target:  func(r *http.Request) string { return keys.URL + "/jwks" },
			allowed: func() []string { return []string{hostPort(t, keys.URL)} },
			want:    true,
		},
		{
			name:    "to a listed host on an unlisted port",
			target:  func(r *http.Request) string { return keys.URL + "/jwks" },
			allowed: func() []string { return []string{"127.0.0.1"} },
			why:     "JWKSRedirectHosts",
		},
		{
			name:   "off https to an outside host",
			target: func(r *http.Request) string { return "http://idp.example.com/jwks" },
			why:    "https",
		},
		{
			name:   "round in circles",
			target: func(r *http.Request) string { return "/jwks" },
			why:    "redirects",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, tt.target(r), http.StatusFound) })
			mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(iss.JWKS()) })
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			var cfg Config
			if tt.allowed != nil {
				cfg.JWKSRedirectHosts = tt.allowed()
			}
			verifies, refused := redirectOutcome(t, iss, clock, srv.URL+"/jwks", cfg)
			if verifies != tt.want {
				t.Fatalf("verifies = %v, want %v (fetch error %v)", verifies, tt.want, refused)
			}
			if !tt.want && !strings.Contains(refused.Error(), tt.why) {
				t.Errorf("fetch error %q does not say %q", refused, tt.why)
			}
		})
	}
}

func TestJWKSRedirectFromHTTPSToHTTPIsRefusedEvenToAListedHost(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	plain := jwksServer(t, iss, false)
	srv := redirector(t, true, func(*http.Request) string { return plain.URL + "/jwks" })
	verifies, refused := redirectOutcome(t, iss, clock, srv.URL+"/jwks", Config{
		HTTPClient:        srv.Client(),
		JWKSRedirectHosts: []string{hostPort(t, plain.URL)},
	})
	if verifies || !strings.Contains(refused.Error(), "https") {
		t.Fatalf("verifies = %v, fetch error %v; want a refusal about https", verifies, refused)
	}
}

// TestJWKSRedirectPolicyAppliesToTheCallersClient: a client given in
// HTTPClient (here one that trusts the test servers' certificate) gets the
// same policy, and its own CheckRedirect still runs after it.
func TestJWKSRedirectPolicyAppliesToTheCallersClient(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	keys := jwksServer(t, iss, true)
	srv := redirector(t, true, func(*http.Request) string { return keys.URL + "/jwks" })

	t.Run("off the origin is refused", func(t *testing.T) {
		verifies, refused := redirectOutcome(t, iss, clock, srv.URL+"/jwks", Config{HTTPClient: srv.Client()})
		if verifies || !strings.Contains(refused.Error(), "JWKSRedirectHosts") {
			t.Fatalf("verifies = %v, fetch error %v", verifies, refused)
		}
	})
	t.Run("a listed host is followed, and the client's own check asked", func(t *testing.T) {
		var asked atomic.Int32
		client := srv.Client()
		client.CheckRedirect = func(*http.Request, []*http.Request) error { asked.Add(1); return nil }
		verifies, refused := redirectOutcome(t, iss, clock, srv.URL+"/jwks", Config{
			HTTPClient: client, JWKSRedirectHosts: []string{hostPort(t, keys.URL)},
		})
		if !verifies {
			t.Fatalf("not followed: %v", refused)
		}
		if asked.Load() == 0 {
			t.Error("the client's CheckRedirect was not asked")
		}
		before := asked.Load()
		if client.CheckRedirect(nil, nil) != nil || asked.Load() != before+1 {
			t.Error("the caller's client was changed")
		}
	})
	t.Run("the client's own check can still refuse", func(t *testing.T) {
		client := srv.Client()
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		verifies, _ := redirectOutcome(t, iss, clock, srv.URL+"/jwks", Config{
			HTTPClient: client, JWKSRedirectHosts: []string{hostPort(t, keys.URL)},
		})
		if verifies {
			t.Fatal("followed a redirect the client's own policy stops")
		}
	})
}

func TestJWKSRedirectHostsAreCheckedAtStartUp(t *testing.T) {
	iss := newIssuer(t, newTestClock())
	for _, h := range []string{"", "https://idp.example.com", "idp.example.com/jwks", "user@idp.example.com", "idp.example.com:port", ":443"} {
		_, err := NewVerifier(context.Background(), Config{Issuers: []Issuer{jwksIssuer(iss)}, JWKSRedirectHosts: []string{h}})
		if err == nil || !strings.Contains(err.Error(), "JWKSRedirectHosts") {
			t.Errorf("%q: err = %v, want a JWKSRedirectHosts error", h, err)
		}
	}
	for _, h := range []string{"idp.example.com", "IDP.example.com:8443", "[::1]:8443", "127.0.0.1"} {
		v, err := NewVerifier(context.Background(), Config{Issuers: []Issuer{jwksIssuer(iss)}, JWKSRedirectHosts: []string{h}, OnRefreshError: func(string, error) {}})
		if err != nil {
			t.Errorf("%q: %v", h, err)
			continue
		}
		_ = v.Close()
	}
}
