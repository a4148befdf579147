package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/internal/redistest"
	"github.com/tollgate/tollgate/ratelimit/redisstore"
)

func TestReadyIsAPingUnderTheDeadline(t *testing.T) {
	srv := redistest.Start(t)
	for _, tc := range []struct {
		name string
		opt  redis.Options
	}{
		{"deadline-aware client", redis.Options{ContextTimeoutEnabled: true, MaxRetries: -1}},
		{"client that ignores deadlines", redis.Options{ReadTimeout: 10 * time.Second, MaxRetries: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt := tc.opt
			opt.Addr = srv.Addr()
			client := redis.NewClient(&opt)
			t.Cleanup(func() { client.Close() })
			s := redisstore.New(redisstore.Config{Client: client, Prefix: redistest.Prefix(t), Logger: quiet})
			redisstore.WaitWarm(s)
			if err := s.Ready(context.Background()); err != nil {
				t.Fatalf("Ready on a healthy Redis = %v", err)
			}
			srv.Pause()
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			done := make(chan error, 1)
			go func() { done <- s.Ready(ctx) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Ready waited past its context's deadline")
			}
			cancel()
			srv.Resume()
			if err == nil {
				t.Fatal("Ready on a paused Redis = nil")
			}
			if err := s.Ready(context.Background()); err != nil {
				t.Fatalf("Ready once Redis is back = %v", err)
			}
		})
	}
}

func TestReadyOnAClusterAsksEveryMaster(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	client := cluster.Client(&redis.ClusterOptions{ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	s := redisstore.New(redisstore.Config{Client: client, Prefix: redistest.Prefix(t), Logger: quiet})
	redisstore.WaitWarm(s)
	if err := s.Ready(context.Background()); err != nil {
		t.Fatalf("Ready on a healthy Cluster = %v", err)
	}
	m := cluster.MasterFor("any")
	m.Pause()
	defer m.Resume()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.Ready(ctx); err == nil {
		t.Fatal("Ready with one master paused = nil")
	}
}
