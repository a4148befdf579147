package redistest_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tollgate/tollgate/internal/redistest"
)

func TestAServerRestartedLosesItsKeysAndKeepsItsPort(t *testing.T) {
	s := redistest.Start(t)
	c := s.Client()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	s.Restart()
	if s.Addr() != addr {
		t.Fatalf("restart moved the server from %s to %s", addr, s.Addr())
	}
	if err := c.Get(ctx, "k").Err(); err != redis.Nil {
		t.Fatalf("after a restart without persistence GET k = %v, want redis.Nil", err)
	}
}

func TestAPausedServerAnswersNothingUntilResumed(t *testing.T) {
	s := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, ReadTimeout: 100 * time.Millisecond})
	defer c.Close()
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	s.Pause()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("a paused server answered PING")
	}
	s.Resume()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("after resume: %v", err)
	}
}

func TestTheProxyAddsLatencyAndBlackHoles(t *testing.T) {
	s := redistest.Start(t)
	p := redistest.NewProxy(t, s.Addr())
	c := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1, ReadTimeout: 300 * time.Millisecond})
	defer c.Close()
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	p.SetLatency(200 * time.Millisecond)
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING through 2×200 ms of latency beat a 300 ms read timeout")
	}
	p.SetLatency(0)
	p.BlackHole(true)
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING through a black hole was answered")
	}
	p.BlackHole(false)
	p.DropConnections()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("after the faults cleared: %v", err)
	}
}

func TestAClusterServesEverySlot(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	c := cl.Client(nil)
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c", "{x}1", "{y}2"} {
		if err := c.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	if m := cl.MasterFor("a"); m == nil {
		t.Fatal("no master for a")
	}
}
