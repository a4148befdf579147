package observe_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/observe"
)

// newFetchingVerifier is a verifier of cfg's settings for an issuer on a
// clock, reporting its fetches to rec, refresh errors silenced.
func newFetchingVerifier(t *testing.T, cfg jwt.Config) (*authtest.Clock, *authtest.Issuer, *recorder, *jwt.Verifier) {
	t.Helper()
	clk := authtest.NewClock(time.Unix(1_800_000_000, 0))
	iss := authtest.NewIssuer(t, authtest.WithClock(clk.Now))
	rec := &recorder{}
	cfg.Issuers = []jwt.Issuer{{
		Issuer: iss.URL(), JWKSURL: iss.JWKSURL(), Audiences: []string{audience}, Algorithms: []string{"RS256"},
	}}
	cfg.Now = clk.Now
	cfg.OnRefreshError = func(string, error) {}
	cfg.Observer = rec.observer()
	v, err := jwt.NewVerifier(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	return clk, iss, rec, v
}

func TestJWKSFetchesAreReportedAndARecoveryAfterFailures(t *testing.T) {
	clk, iss, rec, v := newFetchingVerifier(t, jwt.Config{UnknownKIDCooldown: 30 * time.Second})
	ctx := context.Background()
	if _, err := v.Verify(ctx, mint(iss, "j-1")); err != nil {
		t.Fatal(err)
	}
	unknownKID := func() string {
		return iss.Mint(map[string]any{"sub": "s", "aud": audience}, authtest.WithKID("rotated-away"))
	}
	iss.SetFailing(http.StatusInternalServerError)
	clk.Advance(31 * time.Second)
	_, _ = v.Verify(ctx, unknownKID())
	iss.SetFailing(0)
	clk.Advance(31 * time.Second)
	_, _ = v.Verify(ctx, unknownKID())

	rec.mu.Lock()
	defer rec.mu.Unlock()
	// Keys counts what the set in use holds: the issuer's three keys, of
	// which this verifier uses the RS256 one and may keep more.
	if len(rec.fetches) != 3 {
		t.Fatalf("fetches %+v, want 3", rec.fetches)
	}
	keys := rec.fetches[0].Keys
	if keys == 0 {
		t.Errorf("the first fetch reports no keys: %+v", rec.fetches[0])
	}
	want := []observe.JWKSFetch{
		{Issuer: iss.URL(), Outcome: observe.OutcomeOK, Keys: keys},
		{Issuer: iss.URL(), Outcome: observe.OutcomeError, Keys: keys, Age: 31 * time.Second},
		{Issuer: iss.URL(), Outcome: observe.OutcomeOK, Keys: keys},
	}
	if !slices.Equal(rec.fetches, want) {
		t.Errorf("fetches\n%+v, want\n%+v", rec.fetches, want)
	}
	wantRec := []observe.JWKSRecovery{{Issuer: iss.URL(), Down: 31 * time.Second}}
	if !slices.Equal(rec.recoveries, wantRec) {
		t.Errorf("recoveries %+v, want %+v", rec.recoveries, wantRec)
	}
}

func TestAFailedFetchPastTheStaleLimitReportsTheSetStale(t *testing.T) {
	clk, iss, rec, v := newFetchingVerifier(t, jwt.Config{
		RefreshInterval:    time.Minute,
		MinRefreshInterval: time.Minute,
		StaleLimit:         time.Minute,
	})
	token := mint(iss, "s-1")
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	iss.SetFailing(http.StatusServiceUnavailable)
	clk.Advance(3 * time.Minute)
	_, _ = v.Verify(context.Background(), mint(iss, "s-2"))

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.fetches) < 2 {
		t.Fatalf("fetches %+v", rec.fetches)
	}
	last := rec.fetches[len(rec.fetches)-1]
	if last.Outcome != observe.OutcomeError || !last.Stale || last.Age != 3*time.Minute {
		t.Errorf("last fetch %+v, want a stale set 3m old after an error", last)
	}
}
