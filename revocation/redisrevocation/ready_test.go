package redisrevocation

import (
	"context"
	stderrors "errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/internal/redistest"
)

func TestReadyAnswersByTheEpochAndTheServer(t *testing.T) {
	srv := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	s := New(client, Config{Prefix: redistest.Prefix(t), Timeout: roomyTimeout})
	ctx := context.Background()

	if err := s.Ready(ctx); !stderrors.Is(err, ErrNoEpoch) {
		t.Fatalf("Ready on a new Redis = %v, want ErrNoEpoch", err)
	}
	if err := s.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("Ready after Restore = %v, want nil", err)
	}
	if err := client.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(ctx); !stderrors.Is(err, ErrNoEpoch) {
		t.Fatalf("Ready after the list was lost = %v, want ErrNoEpoch", err)
	}
	if err := s.Restore(ctx); err != nil {
		t.Fatal(err)
	}

	srv.Pause()
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	err := s.Ready(short)
	cancel()
	srv.Resume()
	if err == nil || stderrors.Is(err, ErrNoEpoch) {
		t.Fatalf("Ready on a paused Redis = %v, want a timeout", err)
	}

	srv.Kill()
	if err := s.Ready(ctx); err == nil {
		t.Fatal("Ready on a stopped Redis = nil")
	}
}

func TestReadyGivesUpAtTheDeadlineWithAClientThatIgnoresIt(t *testing.T) {
	srv := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), ReadTimeout: 10 * time.Second, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	s := New(client, Config{Prefix: redistest.Prefix(t), Timeout: roomyTimeout})
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	defer srv.Resume()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Ready(ctx) }()
	select {
	case err := <-done:
		if !stderrors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Ready = %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Ready waited for the client's ReadTimeout, past its context's deadline")
	}
}
