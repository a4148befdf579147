package ratelog_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/ratelog"
)

func TestOneLinePerKindPerIntervalWithTheCountDropped(t *testing.T) {
	now := time.Unix(1000, 0)
	l := ratelog.New(10*time.Second, func() time.Time { return now })
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	ctx := context.Background()
	for range 5 {
		l.Log(ctx, log, slog.LevelWarn, "a", "refused")
	}
	l.Log(ctx, log, slog.LevelWarn, "b", "other kind")
	now = now.Add(10 * time.Second)
	l.Log(ctx, log, slog.LevelWarn, "a", "refused")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3:\n%s", len(lines), buf.String())
	}
	if strings.Contains(lines[0], "dropped") {
		t.Errorf("first line reports drops: %s", lines[0])
	}
	if !strings.Contains(lines[2], "dropped=4") {
		t.Errorf("line after the interval = %s, want dropped=4", lines[2])
	}
}

func TestADisabledLevelCountsNothing(t *testing.T) {
	l := ratelog.New(time.Hour, nil)
	log := slog.New(slog.NewTextHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelError}))
	l.Log(context.Background(), log, slog.LevelInfo, "a", "quiet")
	if ok, dropped := l.Allow("a"); !ok || dropped != 0 {
		t.Fatalf("Allow after a disabled line = %v, %d; want true, 0", ok, dropped)
	}
}
