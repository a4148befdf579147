package revocation

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate/tollgate/principal"
)

// tok is a verified token of subject sub, client client and session sid,
// issued at iat (zero: no iat).
func tok(sub, client, sid string, iat time.Time) *principal.Principal {
	f := principal.Fields{Subject: sub, ClientID: client, IssuedAt: iat}
	if sid != "" {
		f.Claims = map[string]any{"sid": sid}
	}
	return principal.New(f)
}

func TestRulesRevokeWholeSubjectsClientsAndGrants(t *testing.T) {
	before := t0.Add(-time.Minute)
	old, fresh := t0.Add(-2*time.Minute), t0
	until := t0.Add(time.Hour)
	tests := []struct {
		name    string
		rules   []Rule
		lift    *Rule
		advance time.Duration
		p       *principal.Principal
		want    bool
	}{
		{"no rule", nil, nil, 0, tok("u1", "app", "s1", old), false},
		{"a subject's token issued before", []Rule{{Subject: "u1", Before: before, Until: until}}, nil, 0, tok("u1", "app", "", old), true},
		{"a subject's token issued after", []Rule{{Subject: "u1", Before: before, Until: until}}, nil, 0, tok("u1", "app", "", fresh), false},
		{"a subject's token without iat", []Rule{{Subject: "u1", Before: before, Until: until}}, nil, 0, tok("u1", "app", "", time.Time{}), true},
		{"another subject's token", []Rule{{Subject: "u1", Before: before, Until: until}}, nil, 0, tok("u2", "app", "", old), false},
		{"a client's token issued before", []Rule{{Client: "app", Before: before, Until: until}}, nil, 0, tok("u9", "app", "", old), true},
		{"a client's token issued after", []Rule{{Client: "app", Before: before, Until: until}}, nil, 0, tok("u9", "app", "", fresh), false},
		{"a grant: the subject through the client", []Rule{{Subject: "u1", Client: "app", Before: before, Until: until}}, nil, 0, tok("u1", "app", "", old), true},
		{"a grant: the subject through another client", []Rule{{Subject: "u1", Client: "app", Before: before, Until: until}}, nil, 0, tok("u1", "other", "", old), false},
		{"a grant: another subject through the client", []Rule{{Subject: "u1", Client: "app", Before: before, Until: until}}, nil, 0, tok("u2", "app", "", old), false},
		{"a suspended subject, token issued later", []Rule{{Subject: "u1"}}, nil, 0, tok("u1", "app", "", t0.Add(time.Hour)), true},
		{"a suspended client, years later", []Rule{{Client: "app"}}, nil, 10 * 365 * 24 * time.Hour, tok("u1", "app", "", t0.Add(10*365*24*time.Hour)), true},
		{"a resumed subject", []Rule{{Subject: "u1"}}, &Rule{Subject: "u1"}, 0, tok("u1", "app", "", fresh), false},
		{"lifting a grant leaves the subject's suspension", []Rule{{Subject: "u1"}, {Subject: "u1", Client: "app", Before: before, Until: until}}, &Rule{Subject: "u1", Client: "app"}, 0, tok("u1", "app", "", old), true},
		{"a rule holds through the leeway past until", []Rule{{Subject: "u1", Before: before, Until: until}}, nil, time.Hour + DefaultLeeway - time.Millisecond, tok("u1", "app", "", old), true},
		{"a rule ends at until plus the leeway", []Rule{{Subject: "u1", Before: before, Until: until}}, nil, time.Hour + DefaultLeeway, tok("u1", "app", "", old), false},
		{"a later rule widens Before", []Rule{{Subject: "u1", Before: old.Add(-time.Hour), Until: until}, {Subject: "u1", Before: before, Until: until}}, nil, 0, tok("u1", "app", "", old), true},
		{"an earlier rule does not narrow Before", []Rule{{Subject: "u1", Before: before, Until: until}, {Subject: "u1", Before: old.Add(-time.Hour), Until: until}}, nil, 0, tok("u1", "app", "", old), true},
		{"a suspension over a Before rule matches later tokens", []Rule{{Subject: "u1", Before: before, Until: until}, {Subject: "u1"}}, nil, 0, tok("u1", "app", "", fresh), true},
		{"a rule whose until has passed by the leeway does nothing", []Rule{{Subject: "u1", Before: before, Until: t0.Add(-DefaultLeeway)}}, nil, 0, tok("u1", "app", "", old), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := t0
			m := NewMemory(MemoryConfig{Now: func() time.Time { return now }})
			for _, r := range tt.rules {
				if err := m.RevokeRule(r); err != nil {
					t.Fatal(err)
				}
			}
			if tt.lift != nil {
				if err := m.LiftRule(*tt.lift); err != nil {
					t.Fatal(err)
				}
			}
			now = now.Add(tt.advance)
			got, err := m.Revoked(context.Background(), "opaque-token", tt.p)
			if err != nil || got != tt.want {
				t.Fatalf("Revoked = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestARuleMustNameWhatItRevokes(t *testing.T) {
	m := NewMemory(MemoryConfig{})
	for _, r := range []Rule{{}, {Before: t0}, {Until: t0}} {
		if err := m.RevokeRule(r); err != ErrBadRule {
			t.Errorf("RevokeRule(%+v) = %v, want ErrBadRule", r, err)
		}
		if err := m.LiftRule(r); err != ErrBadRule {
			t.Errorf("LiftRule(%+v) = %v, want ErrBadRule", r, err)
		}
	}
}

func TestRulesCountTowardsMaxEntries(t *testing.T) {
	m := NewMemory(MemoryConfig{MaxEntries: 2, Now: func() time.Time { return t0 }})
	for _, sub := range []string{"u1", "u2"} {
		if err := m.RevokeRule(Rule{Subject: sub, Until: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.RevokeRule(Rule{Subject: "u3", Until: t0.Add(time.Hour)}); err != ErrFull {
		t.Fatalf("a third rule in a list of two: %v, want ErrFull", err)
	}
	if err := m.RevokeID("jti-9", t0.Add(time.Hour)); err != ErrFull {
		t.Fatalf("an ID in a list full of rules: %v, want ErrFull", err)
	}
}

// With rules of every shape present, a check of a token none matches still
// makes no allocation.
func TestCheckingRulesDoesNotAllocate(t *testing.T) {
	m := NewMemory(MemoryConfig{Now: func() time.Time { return t0 }})
	for _, r := range []Rule{{Subject: "u1", Before: t0, Until: t0.Add(time.Hour)},
		{Client: "app", Before: t0, Until: t0.Add(time.Hour)}, {Subject: "u2", Client: "app", Before: t0, Until: t0.Add(time.Hour)}} {
		if err := m.RevokeRule(r); err != nil {
			t.Fatal(err)
		}
	}
	p := tok("u3", "other", "s9", t0)
	if n := testing.AllocsPerRun(100, func() { _, _ = m.Revoked(context.Background(), jwt, p) }); n != 0 {
		t.Fatalf("%v allocations per check", n)
	}
}

func BenchmarkRevokedWithRules(b *testing.B) {
	m := NewMemory(MemoryConfig{})
	for i := range 10_000 {
		_ = m.RevokeRule(Rule{Client: "c" + time.Duration(i).String(), Before: time.Now(), Until: time.Now().Add(time.Hour)})
		_ = m.RevokeRule(Rule{Subject: "u" + time.Duration(i).String(), Before: time.Now(), Until: time.Now().Add(time.Hour)})
	}
	p := tok("someone", "app", "s-live", time.Now())
	for _, tc := range []struct {
		name string
		m    *Memory
	}{{"no rules", NewMemory(MemoryConfig{})}, {"20k rules", m}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = tc.m.Revoked(context.Background(), jwt, p)
			}
		})
	}
}
