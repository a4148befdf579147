package redisstore_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"

	"github.com/tollgate/tollgate/internal/redistest"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/ratelimit/redisstore"
)

// go-redis writes a line to stderr for every failed dial. Once
// LogRedisThroughSlog is called, those lines go to slog, one per kind per
// interval, the next one saying how many were dropped.
func TestGoRedisDialErrorsGoThroughSlogWithoutFlooding(t *testing.T) {
	var logs syncBuffer
	redisstore.LogRedisThroughSlog(slog.New(slog.NewTextHandler(&logs, nil)), time.Hour)
	t.Cleanup(logging.Enable) // go-redis's logger is process-wide: put its default back

	srv := redistest.Start(t)
	addr := srv.Addr()
	srv.Kill() // nothing listens there now
	client := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, DialerRetries: 1})
	t.Cleanup(func() { client.Close() })
	s := redisstore.New(redisstore.Config{Client: client, Logger: quiet})
	for range 20 {
		s.Allow(context.Background(), "k", []ratelimit.Limit{{Events: 10, Per: time.Second}})
	}
	out := logs.String()
	dials := strings.Count(out, "failed to dial")
	if dials != 1 {
		t.Errorf("%d lines about failed dials after 20 decisions on a dead Redis, want 1:\n%s", dials, out)
	}
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "source=go-redis") {
		t.Errorf("go-redis's line is not a slog warning from go-redis:\n%s", out)
	}
}
