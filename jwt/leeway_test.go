package jwt

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/revocation"
)

// A revocation list forgets an entry revocation.DefaultLeeway after its
// token's exp; a verifier admitting tokens for longer than that would let a
// revoked token back in.
func TestALeewayBeyondWhatRevocationCoversIsRefusedAtStartUp(t *testing.T) {
	if MaxLeeway > revocation.DefaultLeeway {
		t.Fatalf("MaxLeeway %v exceeds revocation.DefaultLeeway %v", MaxLeeway, revocation.DefaultLeeway)
	}
	clock := newTestClock()
	iss := newIssuer(t, clock)
	cfg := Config{Issuers: []Issuer{jwksIssuer(iss)}, Now: clock.Now, Leeway: MaxLeeway + time.Second}
	if _, err := NewVerifier(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "MaxLeeway") {
		t.Fatalf("NewVerifier with Leeway %v: err = %v, want one naming MaxLeeway", cfg.Leeway, err)
	}
	cfg.Leeway = MaxLeeway
	newVerifier(t, clock, cfg)
}
