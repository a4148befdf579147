package redisrevocation

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/revocation"
)

func ruleToken(sub, client, sid string, iat time.Time) *principal.Principal {
	f := principal.Fields{Subject: sub, ClientID: client, IssuedAt: iat}
	if sid != "" {
		f.Claims = map[string]any{"sid": sid}
	}
	return principal.New(f)
}

// A rule written through one replica refuses its tokens on another from that
// replica's next check, in one extra round trip, and lifting it through the
// other admits them again on the first.
func TestARuleTakesEffectOnEveryReplicaFromItsNextCheck(t *testing.T) {
	now := time.Now()
	a, _, _ := testStore(t, Config{Now: func() time.Time { return now }})
	b, _, rtB := testStore(t, Config{Prefix: a.tag[1 : len(a.tag)-1], Now: func() time.Time { return now }})
	ctx := context.Background()
	s1 := ruleToken("u1", "app", "", now.Add(-time.Minute))
	s2 := ruleToken("u2", "app", "", now.Add(-time.Minute))

	check := func(s *Store, p *principal.Principal) bool {
		t.Helper()
		got, err := s.Revoked(ctx, "opaque-token", p)
		if err != nil {
			t.Fatalf("Revoked: %v", err)
		}
		return got
	}
	if check(b, s1) {
		t.Fatal("revoked before any rule")
	}
	if err := a.RevokeRule(ctx, revocation.Rule{Subject: "u1", Before: now, Until: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if !check(a, s1) {
		t.Fatal("the writing replica admits the revoked subject")
	}
	before := rtB.n.Load()
	if !check(b, s1) {
		t.Fatal("the other replica admits the revoked subject")
	}
	if n := rtB.n.Load() - before; n != 2 {
		t.Fatalf("the check that found new rules took %d round trips, want 2 (the check, the reload)", n)
	}
	before = rtB.n.Load()
	if check(b, s2) {
		t.Fatal("another subject is refused")
	}
	if n := rtB.n.Load() - before; n != 1 {
		t.Fatalf("a check on a current copy took %d round trips, want 1", n)
	}

	if err := b.LiftRule(ctx, revocation.Rule{Subject: "u1"}); err != nil {
		t.Fatal(err)
	}
	if check(a, s1) {
		t.Fatal("the lifted rule still refuses on the other replica")
	}
}

func TestRulesOnRedisMatchAsInMemory(t *testing.T) {
	now := time.Now()
	before := now.Add(-time.Minute)
	old, fresh := now.Add(-2*time.Minute), now
	until := now.Add(time.Hour)
	tests := []struct {
		name  string
		rules []revocation.Rule
		p     *principal.Principal
		want  bool
	}{
		{"a subject's older token", []revocation.Rule{{Subject: "u1", Before: before, Until: until}}, ruleToken("u1", "app", "", old), true},
		{"a subject's newer token", []revocation.Rule{{Subject: "u1", Before: before, Until: until}}, ruleToken("u1", "app", "", fresh), false},
		{"a grant", []revocation.Rule{{Subject: "u1", Client: "app", Before: before, Until: until}}, ruleToken("u1", "app", "", old), true},
		{"a grant of another client", []revocation.Rule{{Subject: "u1", Client: "app", Before: before, Until: until}}, ruleToken("u1", "appx", "", old), false},
		{"a grant whose subject ends like the client starts", []revocation.Rule{{Subject: "u1a", Client: "pp", Before: before, Until: until}}, ruleToken("u1", "app", "", old), false},
		{"a subject with a colon and digits", []revocation.Rule{{Subject: "3:ab", Client: "c", Before: before, Until: until}}, ruleToken("3:ab", "c", "", old), true},
		{"a suspended client", []revocation.Rule{{Client: "app"}}, ruleToken("u9", "app", "", now.Add(time.Hour)), true},
		{"a widened Before", []revocation.Rule{{Subject: "u1", Before: old.Add(-time.Hour), Until: until}, {Subject: "u1", Before: before, Until: until}}, ruleToken("u1", "app", "", old), true},
		{"a suspension over a Before rule", []revocation.Rule{{Subject: "u1", Before: before, Until: until}, {Subject: "u1"}}, ruleToken("u1", "app", "", fresh), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, _, _ := testStore(t, Config{Now: func() time.Time { return now }})
			r, _, _ := testStore(t, Config{Prefix: w.tag[1 : len(w.tag)-1], Now: func() time.Time { return now }})
			ctx := context.Background()
			for _, rule := range tt.rules {
				if err := w.RevokeRule(ctx, rule); err != nil {
					t.Fatal(err)
				}
			}
			// r has never seen the rules: it reads them from Redis.
			got, err := r.Revoked(ctx, "opaque-token", tt.p)
			if err != nil || got != tt.want {
				t.Fatalf("Revoked = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// A rule that ended is dropped from Redis by the next reload, so the hash
// holds only the rules in force.
func TestEndedRulesAreDroppedFromRedis(t *testing.T) {
	now := time.Now()
	s, client, _ := testStore(t, Config{Now: func() time.Time { return now }})
	ctx := context.Background()
	_ = s.RevokeRule(ctx, revocation.Rule{Subject: "short", Before: now, Until: now.Add(time.Minute)})
	_ = s.RevokeRule(ctx, revocation.Rule{Subject: "long", Before: now, Until: now.Add(time.Hour)})
	now = now.Add(time.Minute + revocation.DefaultLeeway + time.Second)
	other, _, _ := testStore(t, Config{Prefix: s.tag[1 : len(s.tag)-1], Now: func() time.Time { return now }})
	if got, err := other.Revoked(ctx, "t", ruleToken("short", "c", "", now.Add(-time.Hour))); err != nil || got {
		t.Fatalf("a subject whose rule ended: %v, %v", got, err)
	}
	fields, err := client.HKeys(ctx, s.rulesKey).Result()
	if err != nil || len(fields) != 1 || fields[0] != "u:long" {
		t.Fatalf("rules left in Redis: %v, %v", fields, err)
	}
}

// When Redis loses its data the rules go with it: the store fails closed
// until Restore, whose Republish writes them again.
func TestLostRulesFailClosedUntilRepublished(t *testing.T) {
	now := time.Now()
	rule := revocation.Rule{Subject: "u1"}
	s, client, _ := testStore(t, Config{Now: func() time.Time { return now },
		Republish: func(ctx context.Context, st *Store) error { return st.RevokeRule(ctx, rule) }})
	ctx := context.Background()
	if err := s.RevokeRule(ctx, rule); err != nil {
		t.Fatal(err)
	}
	other, _, _ := testStore(t, Config{Prefix: s.tag[1 : len(s.tag)-1], Now: func() time.Time { return now }})
	p := ruleToken("u1", "app", "", now)
	if got, err := other.Revoked(ctx, "t", p); !got || err != nil {
		t.Fatalf("before the loss: %v, %v", got, err)
	}
	client.Del(ctx, s.epochKey, s.rulesKey, s.versionKey) // what a restart without persistence does
	if got, err := other.Revoked(ctx, "t", ruleToken("u2", "app", "", now)); got || err == nil {
		t.Fatalf("a check after the loss: %v, %v; want an error", got, err)
	}
	if err := s.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	fresh, _, _ := testStore(t, Config{Prefix: s.tag[1 : len(s.tag)-1], Now: func() time.Time { return now }})
	if got, err := fresh.Revoked(ctx, "t", p); !got || err != nil {
		t.Fatalf("after the republish: %v, %v", got, err)
	}
}

func TestRuleFieldsRoundTrip(t *testing.T) {
	for _, k := range []revocation.RuleKey{
		{Subject: "u"}, {Client: "c:2"}, {Subject: "3:ab", Client: "c"}, {Subject: "a", Client: "1:b"},
	} {
		got, _, err := parseRule(ruleField(k), "0 0")
		if err != nil || got != k {
			t.Errorf("%+v: parsed as %+v, %v", k, got, err)
		}
	}
	for _, bad := range [][2]string{{"x:1", "0 0"}, {"u:1", "0"}, {"g:9:ab", "0 0"}, {"g:x:ab", "0 0"}, {"u", "0 0"}} {
		if _, _, err := parseRule(bad[0], bad[1]); err == nil {
			t.Errorf("%q %q parsed", bad[0], bad[1])
		}
	}
}
