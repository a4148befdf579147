package jwt

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// validatorServer serves a fixed JWK Set, with an ETag and a Last-Modified if
// asked to, and records the conditional headers of every request.
type validatorServer struct {
	mu                 sync.Mutex
	body               []byte
	etag, lastModified string
	honour             bool // answer 304 to a matching If-None-Match
	requests           int
	ifNoneMatch        []string
	ifModifiedSince    []string
}

func (s *validatorServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	s.ifNoneMatch = append(s.ifNoneMatch, r.Header.Get("If-None-Match"))
	s.ifModifiedSince = append(s.ifModifiedSince, r.Header.Get("If-Modified-Since"))
	if s.etag != "" {
		w.Header().Set("ETag", s.etag)
	}
	if s.lastModified != "" {
		w.Header().Set("Last-Modified", s.lastModified)
	}
	if s.honour && s.etag != "" && r.Header.Get("If-None-Match") == s.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.body)
}

func (s *validatorServer) set(body []byte, etag string) {
	s.mu.Lock()
	s.body, s.etag = body, etag
	s.mu.Unlock()
}

// newServedVerifier is a verifier of iss's tokens whose JWKS comes from srv.
func newServedVerifier(t *testing.T, srv *validatorServer) (*Verifier, func() string) {
	t.Helper()
	clock := newTestClock()
	iss := newIssuer(t, clock)
	srv.set(iss.JWKS(), srv.etag)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	is := jwksIssuer(iss)
	is.JWKSURL = hs.URL
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{is}})
	return v, func() string { return iss.Mint(claims(nil)) }
}

func TestRefreshSendsTheValidatorsAndKeepsTheSetOnNotModified(t *testing.T) {
	srv := &validatorServer{etag: `"v1"`, lastModified: "Tue, 01 Dec 2026 10:00:00 GMT", honour: true}
	v, mint := newServedVerifier(t, srv)
	token := mint()
	first := mustVerify(t, v, token)
	set := v.remotes[0].set.Load()
	if err := v.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.requests != 2 {
		t.Fatalf("requests = %d, want 2", srv.requests)
	}
	if srv.ifNoneMatch[0] != "" || srv.ifModifiedSince[0] != "" {
		t.Errorf("first fetch was conditional: If-None-Match %q, If-Modified-Since %q", srv.ifNoneMatch[0], srv.ifModifiedSince[0])
	}
	if srv.ifNoneMatch[1] != `"v1"` || srv.ifModifiedSince[1] != srv.lastModified {
		t.Errorf("refresh sent If-None-Match %q, If-Modified-Since %q; want the first response's validators", srv.ifNoneMatch[1], srv.ifModifiedSince[1])
	}
	if got := v.remotes[0].set.Load(); got != set {
		t.Error("a 304 replaced the key set")
	}
	if again := mustVerify(t, v, token); again != first {
		t.Error("a 304 dropped the cached token")
	}
}

func TestRefreshWithAByteIdenticalBodyDoesNotParseIt(t *testing.T) {
	srv := &validatorServer{} // no validators: every refresh is a full 200
	v, mint := newServedVerifier(t, srv)
	r := v.remotes[0]
	cur := r.set.Load()
	got, _, err := r.download(context.Background(), r.url, cur)
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	if got != cur {
		t.Error("an identical body was parsed into a new set")
	}
	mustVerify(t, v, mint())
}

func TestRefreshWithAChangedBodyParsesIt(t *testing.T) {
	srv := &validatorServer{etag: `"v1"`, honour: true}
	v, mint := newServedVerifier(t, srv)
	token := mint()
	mustVerify(t, v, token)
	before := v.remotes[0].set.Load()

	// A new set under a new ETag: the conditional request misses, the body
	// differs, and the issuer's key is gone, so its token is refused.
	other := newIssuer(t, newTestClock())
	srv.set(other.JWKS(), `"v2"`)
	if err := v.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if v.remotes[0].set.Load() == before {
		t.Fatal("a changed body kept the old set")
	}
	p, err := v.Verify(context.Background(), token)
	if err == nil {
		t.Fatalf("a token whose key left the set was accepted: %+v", p)
	}
}

func TestNotModifiedToTheFirstFetchIsAFailure(t *testing.T) {
	// A 304 to a request that sent no validator is not a set: the issuer
	// stays without keys.
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotModified)
	}))
	t.Cleanup(hs.Close)
	clock := newTestClock()
	iss := newIssuer(t, clock)
	is := jwksIssuer(iss)
	is.JWKSURL = hs.URL
	v, rec := newVerifier(t, clock, Config{Issuers: []Issuer{is}})
	if rec.count() == 0 {
		t.Error("a 304 to the first fetch was not reported as a failure")
	}
	if v.remotes[0].set.Load() != nil {
		t.Error("a 304 to the first fetch produced a key set")
	}
}

// thousandKeySet is a JWK Set of 1,000 RSA-2048 keys, one public key under
// 1,000 kids (generating 1,000 distinct keys would take a minute; parsing
// and checking costs the same per key either way).
func thousandKeySet(b *testing.B) []byte {
	b.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	n := base64.RawURLEncoding.EncodeToString(key.N.Bytes())
	e := base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes())
	var buf bytes.Buffer
	buf.WriteString(`{"keys":[`)
	for i := range 1000 {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"kty":"RSA","use":"sig","alg":"RS256","kid":"key-%04d","n":%q,"e":%q}`, i, n, e)
	}
	buf.WriteString(`]}`)
	return buf.Bytes()
}

// BenchmarkJWKSRefreshUnchanged is one refresh of an unchanged set of
// 1,000 keys over loopback HTTP. parse_and_compare is what every refresh
// cost before (download, parse, compare with the set in use: sameKeys is
// quadratic); identical_body is a server that sends no validators (the
// body is hashed, not parsed); not_modified is a server that honours
// If-None-Match (no body at all).
func BenchmarkJWKSRefreshUnchanged(b *testing.B) {
	body := thousandKeySet(b)
	for _, c := range []struct {
		name    string
		etag    string
		compare bool
	}{
		{"parse_and_compare", "", true},
		{"identical_body", "", false},
		{"not_modified", `"v1"`, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			srv := &validatorServer{body: body, etag: c.etag, honour: true}
			hs := httptest.NewServer(srv)
			defer hs.Close()
			r := newJWKSSource("https://issuer.example", hs.URL, &Config{HTTPClient: hs.Client(), MaxJWKSBytes: defaultMaxJWKSBytes})
			ctx := context.Background()
			cur, _, err := r.download(ctx, hs.URL, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if c.compare {
					r.last = lastDownload{}
				}
				set, _, err := r.download(ctx, hs.URL, cur)
				if err != nil {
					b.Fatal(err)
				}
				if set != cur && !set.sameKeys(cur) {
					b.Fatal("the same body made another set")
				}
			}
		})
	}
}
