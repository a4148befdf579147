package redisstore_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/observe"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/ratelimit/redisstore"
)

func TestTheObserverIsToldWhenRedisIsLostAndWhenItIsBack(t *testing.T) {
	_, proxy, client := proxied(t)
	var mu sync.Mutex
	var states []observe.StoreState
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := redisstore.New(redisstore.Config{Client: client, TripAfter: 1, Logger: quiet,
		Now: func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return now
		},
		Observer: &observe.Observer{StoreState: func(st observe.StoreState) {
			mu.Lock()
			defer mu.Unlock()
			states = append(states, st)
		}},
	})
	redisstore.WaitWarm(s)
	quota := []ratelimit.Limit{{Name: "hourly", Events: 10, Per: time.Hour}}
	ctx := context.Background()
	allow := func() {
		if _, err := s.Allow(ctx, "client:observed", quota); err != nil {
			t.Fatal(err)
		}
	}
	allow()
	proxy.BlackHole(true)
	allow()
	allow()
	proxy.BlackHole(false)
	proxy.DropConnections()
	mu.Lock()
	now = now.Add(redisstore.DefaultRetryInterval)
	mu.Unlock()
	allow()
	allow()

	mu.Lock()
	defer mu.Unlock()
	want := []observe.StoreState{
		{Store: redisstore.StoreName, State: observe.StoreFallback},
		{Store: redisstore.StoreName, State: observe.StoreRemote},
	}
	if !slices.Equal(states, want) {
		t.Errorf("states %v, want %v", states, want)
	}
}
