package redisstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/internal/redistest"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/ratelimit/redisstore"
)

// One real Redis Cluster (3 masters, 3 replicas, node timeout 1 s) for
// both tests, the destructive one last. The client is built as the
// package doc shows.
func TestOnRedisCluster(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: cluster.Addrs(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { rdb.Close() })
	if _, ok := rdb.(*redis.ClusterClient); !ok {
		t.Fatalf("NewUniversalClient with %d addresses made a %T, not a cluster client", len(cluster.Addrs()), rdb)
	}
	t.Run("keys with braces keep their limits in one slot and to themselves", func(t *testing.T) {
		testBracedKeys(t, rdb)
	})
	t.Run("a master killed: its keys are back on Redis within seconds, the others never left", func(t *testing.T) {
		testFailover(t, cluster, rdb)
	})
}

func testBracedKeys(t *testing.T, rdb redis.UniversalClient) {
	p := "tollgate:rl:braces:"
	s := redisstore.New(redisstore.Config{Client: rdb, Prefix: p, Timeout: liveTimeout, Logger: quiet})
	// Two limits per key: one script on two Redis keys, which Redis Cluster
	// refuses (CROSSSLOT) unless both share a hash slot.
	limits := []ratelimit.Limit{
		{Name: "burst", Events: 100, Per: time.Second},
		{Name: "quota", Events: 2, Per: time.Hour},
	}
	keys := []string{"}{", "{}", "a{b}c", "a{b}d", "{x}", "{x}y", "x", "{", "}", "{{}}", ""}
	ctx := context.Background()
	for _, key := range keys {
		for i, want := range []bool{true, true, false} {
			d, err := s.Allow(ctx, key, limits)
			if err != nil || d.Allowed != want || d.Index != 1 {
				t.Errorf("key %q, request %d: %+v, %v; want allowed %v by its own quota of 2", key, i+1, d, err, want)
			}
		}
		a, err1 := rdb.ClusterKeySlot(ctx, p+hashTag(key)+":burst").Result()
		b, err2 := rdb.ClusterKeySlot(ctx, p+hashTag(key)+":quota").Result()
		if err1 != nil || err2 != nil || a != b {
			t.Errorf("key %q: its limits are in slots %d and %d (%v, %v)", key, a, b, err1, err2)
		}
	}
	if st := s.Stats(); st.Failed != 0 || st.Redis != uint64(3*len(keys)) {
		t.Errorf("%+v; want every decision made on Redis, none failed (CROSSSLOT)", st)
	}
}

func testFailover(t *testing.T, cluster *redistest.Cluster, rdb redis.UniversalClient) {
	p := "tollgate:rl:failover:"
	limits := []ratelimit.Limit{{Name: "hourly", Events: 1 << 30, Per: time.Hour}}
	// key's slot is on the master killed; other's on another master. Each
	// has a store of its own, so each store's counts are one key's.
	key := "client:failover"
	victim := cluster.MasterFor(p + hashTag(key) + ":hourly")
	other := ""
	for i := range 1000 {
		k := fmt.Sprint("client:other-", i)
		if cluster.MasterFor(p+hashTag(k)+":hourly") != victim {
			other = k
			break
		}
	}
	sKey := redisstore.New(redisstore.Config{Client: rdb, Prefix: p, Logger: quiet})
	sOther := redisstore.New(redisstore.Config{Client: rdb, Prefix: p, Logger: quiet})
	ctx := context.Background()
	for _, s := range []*redisstore.Store{sKey, sOther} {
		redisstore.WaitWarm(s)
	}
	for range 3 {
		sKey.Allow(ctx, key, limits)
		sOther.Allow(ctx, other, limits)
	}
	if a, b := sKey.Stats(), sOther.Stats(); a.Redis != 3 || b.Redis != 3 {
		t.Fatalf("before the kill: %+v and %+v; want every decision on Redis", a, b)
	}

	// The other key's master, asked whether the cluster is whole: once the
	// cluster marks the dead master as failed, and until a replica takes
	// over, every node answers CLUSTERDOWN for every key, which is the
	// cluster's own outage, not the store's doing.
	otherMaster := redis.NewClient(&redis.Options{Addr: cluster.MasterFor(p + hashTag(other) + ":hourly").Addr(), MaxRetries: -1})
	defer otherMaster.Close()
	clusterOK := func() bool {
		info, err := otherMaster.ClusterInfo(ctx).Result()
		return err == nil && strings.Contains(info, "cluster_state:ok")
	}

	victim.Kill()
	killed := time.Now()
	var tripped, recovered, longest time.Duration
	otherFailedWhileWhole := 0
	for i := 0; i < 2000 && time.Since(killed) < 20*time.Second; i++ {
		start := time.Now()
		sKey.Allow(ctx, key, limits)
		longest = max(longest, time.Since(start))
		okBefore, failed := clusterOK(), sOther.Stats().Failed
		sOther.Allow(ctx, other, limits)
		if sOther.Stats().Failed > failed && okBefore && clusterOK() {
			otherFailedWhileWhole++
		}
		st := sKey.Stats()
		if tripped == 0 && st.Trips > 0 {
			tripped = time.Since(killed)
		}
		if st.Redis > 3 {
			recovered = time.Since(killed)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	a, b := sKey.Stats(), sOther.Stats()
	t.Logf("master of the key's slot killed: switch tripped after %v; decisions on Redis again after %v; longest request %v; key: %+v (%d fallback flips); a key on another master: %+v",
		tripped.Round(time.Millisecond), recovered.Round(time.Millisecond), longest.Round(time.Millisecond), a, a.Trips, b)
	if recovered == 0 {
		t.Fatalf("20 s after the master of the key's slot was killed, its decisions are still not on Redis: %+v", a)
	}
	if otherFailedWhileWhole != 0 {
		t.Errorf("a key on another master failed %d times while the cluster said it was whole", otherFailedWhileWhole)
	}
	cluster.WaitHealthy(30 * time.Second)
	healthy := time.Since(killed)
	for range 3 {
		if _, err := sKey.Allow(ctx, key, limits); err != nil {
			t.Fatal(err)
		}
	}
	if got := sKey.Stats(); got.Redis < a.Redis+3 {
		t.Errorf("with the cluster healthy again (after %v): %+v; want the key decided on Redis", healthy.Round(time.Millisecond), got)
	}
}
