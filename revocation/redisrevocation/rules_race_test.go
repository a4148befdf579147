package redisrevocation

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/revocation"
)

// With FailOpen, a reload of the rules that fails keeps what the same check
// already learnt from Redis: a revoked jti stays refused.
func TestARulesReloadThatFailsKeepsWhatRedisSaid(t *testing.T) {
	now := time.Now()
	s, client, _ := testStore(t, Config{FailOpen: true, Now: func() time.Time { return now }})
	ctx := context.Background()
	p := principal.New(principal.Fields{Subject: "u1", TokenID: "jti-rev", IssuedAt: now.Add(-time.Minute)})
	if err := s.RevokeID(ctx, "jti-rev", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	client.HSet(ctx, s.rulesKey, "x:written-by-a-newer-version", "0 0")
	client.Set(ctx, s.versionKey, "changed", 0)
	got, err := s.Revoked(ctx, "tok", p)
	if err != nil || !got {
		t.Fatalf("Revoked = %v, %v: a token whose jti Redis says is revoked was admitted", got, err)
	}
}

// hookBeforeHDel runs fn once, just before the first command that deletes
// rule fields (the reload's clean-up of ended rules).
type hookBeforeHDel struct {
	fn   func()
	done bool
}

func (h *hookBeforeHDel) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *hookBeforeHDel) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		name := strings.ToLower(cmd.Name())
		if !h.done && (name == "hdel" || name == "evalsha" && strings.Contains(fmt.Sprint(cmd.Args()), "u:u1")) {
			h.done = true
			h.fn()
		}
		return next(ctx, cmd)
	}
}
func (h *hookBeforeHDel) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// The reload's clean-up of an ended rule never deletes the same rule
// written again by another replica in the meantime.
func TestDroppingAnEndedRuleKeepsItsRewrite(t *testing.T) {
	clock := time.Now()
	now := func() time.Time { return clock }
	a, clientA, _ := testStore(t, Config{Now: now})
	b, _, _ := testStore(t, Config{Prefix: a.tag[1 : len(a.tag)-1], Now: now})
	ctx := context.Background()
	clientA.HSet(ctx, a.rulesKey, "u:u1", fmt.Sprintf("%d %d", clock.Add(-3*time.Hour).UnixMilli(), clock.Add(-time.Hour).UnixMilli()))
	clientA.Set(ctx, a.versionKey, "v-old", 0)
	clientA.AddHook(&hookBeforeHDel{fn: func() {
		if err := b.RevokeRule(ctx, revocation.Rule{Subject: "u1", Before: clock, Until: clock.Add(time.Hour)}); err != nil {
			t.Errorf("RevokeRule: %v", err)
		}
	}})
	p := principal.New(principal.Fields{Subject: "u1", IssuedAt: clock.Add(-time.Minute)})
	if _, err := a.Revoked(ctx, "tok", p); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Revoked(ctx, "tok", p); err != nil || !got {
		v, _ := clientA.HGet(ctx, a.rulesKey, "u:u1").Result()
		t.Fatalf("Revoked = %v, %v: the rule written again was deleted (field now %q)", got, err, v)
	}
}

// A restore from an older snapshot under the same epoch brings back an
// older version; new rules written after it must still reach every replica.
func TestARuleWrittenAfterARollbackReachesEveryReplica(t *testing.T) {
	clock := time.Now()
	now := func() time.Time { return clock }
	a, client, _ := testStore(t, Config{Now: now})
	b, _, _ := testStore(t, Config{Prefix: a.tag[1 : len(a.tag)-1], Now: now})
	ctx := context.Background()
	old := func(sub string) *principal.Principal {
		return principal.New(principal.Fields{Subject: sub, IssuedAt: clock.Add(-time.Minute)})
	}
	if err := b.RevokeRule(ctx, revocation.Rule{Subject: "u1", Before: clock, Until: clock.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Revoked(ctx, "tok", old("u1")); !got {
		t.Fatal("u1 not revoked on a")
	}
	client.Del(ctx, a.rulesKey)
	client.Set(ctx, a.versionKey, "0", 0)
	if err := b.RevokeRule(ctx, revocation.Rule{Subject: "u2", Before: clock, Until: clock.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Revoked(ctx, "tok", old("u2")); !got {
		t.Fatal("a rule written after the rollback is not enforced on a")
	}
}
