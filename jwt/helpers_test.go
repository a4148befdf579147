package jwt

import (
	"context"
	stderrors "errors"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/principal"
)

// testAudience is the audience every test issuer's tokens are minted for.
const testAudience = "orders-api"

// testClock is a clock tests move by hand; nothing sleeps.
type testClock = authtest.Clock

func newTestClock() *testClock {
	return authtest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}

// refreshErrors records OnRefreshError calls.
type refreshErrors struct {
	mu   sync.Mutex
	errs []error
}

func (r *refreshErrors) record(_ string, err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

func (r *refreshErrors) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errs)
}

// jwksIssuer is the usual configuration for an authtest issuer.
func jwksIssuer(iss *authtest.Issuer, algs ...string) Issuer {
	if len(algs) == 0 {
		algs = []string{"RS256", "ES256", "EdDSA"}
	}
	return Issuer{
		Issuer:     iss.URL(),
		JWKSURL:    iss.JWKSURL(),
		Audiences:  []string{testAudience},
		Algorithms: algs,
	}
}

// newVerifier builds a verifier on clock and closes it when the test ends.
// Refresh errors are recorded instead of logged.
func newVerifier(t testing.TB, clock *testClock, cfg Config) (*Verifier, *refreshErrors) {
	t.Helper()
	rec := &refreshErrors{}
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	if cfg.OnRefreshError == nil {
		cfg.OnRefreshError = rec.record
	}
	v, err := NewVerifier(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	t.Cleanup(func() { _ = v.Close() })
	return v, rec
}

func newIssuer(t testing.TB, clock *testClock) *authtest.Issuer {
	return authtest.NewIssuer(t, authtest.WithClock(clock.Now))
}

// claims returns the claims of a valid token for testAudience, with extra
// merged in.
func claims(extra map[string]any) map[string]any {
	c := map[string]any{"sub": "user-1", "aud": testAudience}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

// mustVerify fails the test unless token verifies.
func mustVerify(t *testing.T, v *Verifier, token string) *principal.Principal {
	t.Helper()
	p, err := v.Verify(context.Background(), token)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if p == nil {
		t.Fatal("Verify returned neither a principal nor an error")
	}
	return p
}

// wantRefusal fails the test unless err is an *errors.Error of kind whose
// cause is (or wraps) cause. A nil cause skips that check.
func wantRefusal(t *testing.T, p *principal.Principal, err error, kind tgerrors.Kind, cause error) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted (principal %+v), want %s", p, kind)
	}
	if p != nil {
		t.Errorf("refusal came with a principal")
	}
	var e *tgerrors.Error
	if !stderrors.As(err, &e) {
		t.Fatalf("error %v is not an *errors.Error", err)
	}
	if e.Kind != kind {
		t.Errorf("kind = %s, want %s (%v)", e.Kind, kind, err)
	}
	if cause != nil && !stderrors.Is(e.Err, cause) {
		t.Errorf("cause = %v, want %v", e.Err, cause)
	}
	switch kind {
	case tgerrors.InvalidToken:
		if e.Message != msgInvalidToken {
			t.Errorf("message %q tells more than that the token is invalid", e.Message)
		}
	case tgerrors.ExpiredToken:
		if e.Message != msgExpiredToken {
			t.Errorf("message = %q", e.Message)
		}
	}
}
