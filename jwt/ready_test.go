package jwt

import (
	"context"
	stderrors "errors"
	"net/http"
	"strings"
	"testing"
	"time"

	tgerrors "github.com/tollgate/tollgate/errors"
)

// A key set that comes back after an outage serves the very next token: the
// fetch an earlier token caused during the outage puts no cooldown on an
// issuer that has no usable keys.
func TestKeySetBackAfterAnOutageServesTheNextTokenAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		outage func(*testing.T, *testClock, *Verifier)
	}{
		{"never fetched", func(*testing.T, *testClock, *Verifier) {}},
		{"stale", func(t *testing.T, clock *testClock, v *Verifier) {
			clock.Advance(2 * time.Hour) // past refresh + stale limit
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newTestClock()
			iss := newIssuer(t, clock)
			if tc.name == "never fetched" {
				iss.SetFailing(http.StatusServiceUnavailable)
			}
			v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}, RefreshInterval: time.Hour, StaleLimit: time.Minute})
			iss.SetFailing(http.StatusServiceUnavailable)
			tc.outage(t, clock, v)
			token := iss.Mint(claims(nil))
			p, err := v.Verify(context.Background(), token)
			wantRefusal(t, p, err, tgerrors.Unavailable, errJWKSUnavailable)

			iss.SetFailing(0)
			mustVerify(t, v, token)
			if err := v.Ready(context.Background()); err != nil {
				t.Errorf("Ready once the keys are back = %v", err)
			}
		})
	}
}

func TestReadyNamesTheIssuersWithoutUsableKeys(t *testing.T) {
	clock := newTestClock()
	up, down := newIssuer(t, clock), newIssuer(t, clock)
	down.SetFailing(http.StatusInternalServerError)
	v, _ := newVerifier(t, clock, Config{
		Issuers:         []Issuer{jwksIssuer(up), jwksIssuer(down)},
		RefreshInterval: time.Hour, StaleLimit: time.Minute,
	})
	err := v.Ready(context.Background())
	if err == nil {
		t.Fatal("Ready with an issuer whose keys never loaded = nil")
	}
	if !strings.Contains(err.Error(), down.URL()) || strings.Contains(err.Error(), up.URL()) {
		t.Errorf("Ready = %q, want it to name %s only", err, down.URL())
	}
	if !strings.Contains(err.Error(), "not loaded") {
		t.Errorf("Ready = %q, want it to say the keys are not loaded", err)
	}
	if !stderrors.Is(err, ErrKeysNotReady) {
		t.Errorf("Ready = %v, want ErrKeysNotReady", err)
	}

	down.SetFailing(0)
	if err := v.Ready(context.Background()); err != nil {
		t.Fatalf("Ready once every key set answers = %v (Ready fetches a key set that is not usable)", err)
	}

	up.SetFailing(http.StatusInternalServerError)
	down.SetFailing(http.StatusInternalServerError)
	clock.Advance(2 * time.Hour)
	err = v.Ready(context.Background())
	if err == nil || !strings.Contains(err.Error(), "stale") || !strings.Contains(err.Error(), up.URL()) || !strings.Contains(err.Error(), down.URL()) {
		t.Errorf("Ready past the stale limit = %v, want both issuers named stale", err)
	}
}

func TestReadyGivesUpAtTheContextsDeadline(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	iss.SetFailing(http.StatusInternalServerError)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}})
	iss.SetFailing(0)
	iss.SetStalled(true)
	defer iss.SetStalled(false)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := v.Ready(ctx); err == nil || !strings.Contains(err.Error(), "not loaded") {
		t.Fatalf("Ready with a stalled key set = %v, want not loaded", err)
	}
}

func TestReadyHoldsForStaticAndLocalKeys(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{{
		Issuer: iss.URL(), Audiences: []string{testAudience}, Algorithms: []string{"ES256"},
		Keys: []StaticKey{{ID: iss.KID("ES256"), Public: iss.PublicKey("ES256")}},
	}, keySourceIssuer("https://local.example", &fakeKeySource{})}})
	if err := v.Ready(context.Background()); err != nil {
		t.Fatalf("Ready with static keys and a KeySource = %v", err)
	}
}

func TestRequireKeysAtStartRefusesToStartWithoutKeys(t *testing.T) {
	clock := newTestClock()
	up, down := newIssuer(t, clock), newIssuer(t, clock)
	down.SetFailing(http.StatusServiceUnavailable)
	cfg := Config{Issuers: []Issuer{jwksIssuer(up), jwksIssuer(down)}, RequireKeysAtStart: true, Now: clock.Now, OnRefreshError: func(string, error) {}}
	v, err := NewVerifier(context.Background(), cfg)
	if err == nil {
		v.Close()
		t.Fatal("NewVerifier started without the keys of an issuer")
	}
	if !strings.Contains(err.Error(), down.URL()) || strings.Contains(err.Error(), up.URL()) {
		t.Errorf("error %q, want it to name %s only", err, down.URL())
	}

	down.SetFailing(0)
	v, err = NewVerifier(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewVerifier with every key set up: %v", err)
	}
	v.Close()

	t.Run("without it the verifier starts and is not ready", func(t *testing.T) {
		down.SetFailing(http.StatusServiceUnavailable)
		cfg := cfg
		cfg.RequireKeysAtStart = false
		v, err := NewVerifier(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		if err := v.Ready(context.Background()); err == nil {
			t.Error("Ready = nil")
		}
	})
}

func TestRequireKeysAtStartGivesUpAfterFetchTimeout(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	iss.SetStalled(true)
	defer iss.SetStalled(false)
	_, err := NewVerifier(context.Background(), Config{
		Issuers: []Issuer{jwksIssuer(iss)}, RequireKeysAtStart: true, FetchTimeout: 50 * time.Millisecond,
		Now: clock.Now, OnRefreshError: func(string, error) {},
	})
	if !stderrors.Is(err, ErrKeysNotReady) || !strings.Contains(err.Error(), iss.URL()+": keys not loaded") {
		t.Fatalf("NewVerifier with a stalled key set = %v, want ErrKeysNotReady naming %s", err, iss.URL())
	}
}
