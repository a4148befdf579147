package revocation

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	"github.com/tollgate/tollgate/principal"
)

func TestMemoryRevokesTheTokensOfASessionBySid(t *testing.T) {
	withSid := func(sid string) *principal.Principal {
		return principal.New(principal.Fields{Subject: "u", TokenID: "jti-9", Claims: map[string]any{"sid": sid}})
	}
	tests := []struct {
		name    string
		p       *principal.Principal
		advance time.Duration
		want    bool
	}{
		{"a token of the ended session", withSid("s1"), 0, true},
		{"a token of another session", withSid("s2"), 0, false},
		{"a token without a sid", principal.New(principal.Fields{Subject: "u", TokenID: "jti-9"}), 0, false},
		{"through the leeway past until", withSid("s1"), time.Hour + DefaultLeeway - time.Nanosecond, true},
		{"not past until plus the leeway", withSid("s1"), time.Hour + DefaultLeeway, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := authtest.NewClock(t0)
			m := NewMemory(MemoryConfig{Now: clk.Now})
			if err := m.RevokeSession("s1", t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			clk.Advance(tt.advance)
			if got, err := m.Revoked(context.Background(), "opaque", tt.p); err != nil || got != tt.want {
				t.Fatalf("Revoked = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if err := NewMemory(MemoryConfig{}).RevokeSession("", time.Time{}); err == nil {
		t.Fatal("the empty sid was revoked")
	}
}

func TestASessionRevocationCountsAgainstMaxEntriesAndIsSwept(t *testing.T) {
	clk := authtest.NewClock(t0)
	m := NewMemory(MemoryConfig{Now: clk.Now, MaxEntries: 1})
	if err := m.RevokeSession("s1", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := m.RevokeID("j", t0.Add(time.Hour)); err != ErrFull {
		t.Fatalf("err %v, want ErrFull", err)
	}
	clk.Advance(time.Minute + DefaultLeeway)
	if err := m.RevokeID("j", t0.Add(2*time.Hour)); err != nil || m.Len() != 1 {
		t.Fatalf("err %v, Len %d: the expired session entry was not swept", err, m.Len())
	}
}

func TestARevocationAlreadyHeldIsExtendedWhenTheListIsFull(t *testing.T) {
	withSid := principal.New(principal.Fields{Subject: "u", Claims: map[string]any{"sid": "s1"}})
	tests := []struct {
		name   string
		revoke func(m *Memory, until time.Time) error
	}{
		{"a session", func(m *Memory, until time.Time) error { return m.RevokeSession("s1", until) }},
		{"a subject's rule", func(m *Memory, until time.Time) error { return m.RevokeRule(Rule{Subject: "u", Until: until}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := authtest.NewClock(t0)
			m := NewMemory(MemoryConfig{Now: clk.Now, MaxEntries: 1})
			if err := tt.revoke(m, t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if err := tt.revoke(m, t0.Add(time.Hour)); err != nil {
				t.Fatalf("extending the one entry held: %v", err)
			}
			clk.Advance(30 * time.Minute)
			if got, _ := m.Revoked(context.Background(), "opaque", withSid); !got {
				t.Fatal("the token is no longer revoked: the extension was lost")
			}
		})
	}
}
