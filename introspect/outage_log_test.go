package introspect

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/internal/ratelog"
)

// logRecorder keeps the lines it is given, with their attributes.
type logRecorder struct {
	mu    sync.Mutex
	lines []logLine
}

type logLine struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l := logLine{r.Level, r.Message, map[string]string{}}
	r.Attrs(func(a slog.Attr) bool { l.attrs[a.Key] = a.Value.String(); return true })
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lines = append(h.lines, l)
	return nil
}
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

// take returns the lines recorded since the last take.
func (h *logRecorder) take() []logLine {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := h.lines
	h.lines = nil
	return l
}

func TestAnOutageLogsOneLinePerIntervalWithTheCountDroppedAndTheRecovery(t *testing.T) {
	const n = 1000
	ep := newEndpoint(t, status(http.StatusBadGateway, "upstream down"))
	clk := newClock()
	logs := &logRecorder{}
	c := newClient(t, ep, clk, func(cfg *Config) { cfg.Logger = slog.New(logs) })

	for i := range n {
		_, err := c.Verify(context.Background(), fmt.Sprintf("secret-token-%d", i))
		wantRefusal(t, err, tgerrors.Unavailable)
	}
	lines := logs.take()
	if len(lines) != 1 {
		t.Fatalf("%d failed calls wrote %d lines, want 1 per interval", n, len(lines))
	}
	noToken(t, lines)
	if l := lines[0]; l.level != slog.LevelWarn || l.msg != "tollgate: introspection failed" ||
		!strings.Contains(l.attrs["cause"], "502") || l.attrs["dropped"] != "" {
		t.Errorf("first line: %v %q %v, want Warn with the cause and no drop count", l.level, l.msg, l.attrs)
	}

	clk.Advance(ratelog.DefaultInterval)
	_, err := c.Verify(context.Background(), "secret-token-next")
	wantRefusal(t, err, tgerrors.Unavailable)
	lines = logs.take()
	if len(lines) != 1 || lines[0].attrs["dropped"] != fmt.Sprint(n-1) {
		t.Fatalf("after the interval: %v, want one line with dropped=%d", lines, n-1)
	}

	ep.setResponse(answer(activeFor(time.Hour)))
	for i := range 10 {
		if _, err := c.Verify(context.Background(), fmt.Sprintf("secret-token-ok-%d", i)); err != nil {
			t.Fatalf("after recovery: %v", err)
		}
	}
	lines = logs.take()
	if len(lines) != 1 || lines[0].level != slog.LevelInfo || lines[0].msg != "tollgate: introspection endpoint answering again" {
		t.Fatalf("after recovery: %v, want one Info line saying so", lines)
	}
}

func TestRefusalsAtTheCapLogOneLinePerIntervalApartFromFailures(t *testing.T) {
	ep := newGatedEndpoint(t)
	logs := &logRecorder{}
	c, err := New(Config{Endpoint: ep.URL, Auth: ClientSecretBasic("orders-api", "s3cret"),
		Now: newClock().Now, MaxConcurrentCalls: 1, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan error)
	go func() { _, err := c.Verify(context.Background(), "secret-token-held"); held <- err }()
	waitUntil(func() bool { return ep.inFlight.Load() == 1 })

	for i := range 100 {
		_, err := c.Verify(context.Background(), fmt.Sprintf("secret-token-%d", i))
		wantRefusal(t, err, tgerrors.Unavailable)
	}
	ep.open()
	if err := <-held; err != nil {
		t.Fatalf("the call under the cap: %v", err)
	}
	lines := logs.take()
	if len(lines) != 1 || lines[0].level != slog.LevelWarn || lines[0].attrs["max_concurrent_calls"] != "1" {
		t.Fatalf("100 refusals at the cap wrote %v, want one Warn line naming the cap", lines)
	}
	noToken(t, lines)
}

func noToken(t *testing.T, lines []logLine) {
	t.Helper()
	for _, l := range lines {
		for _, v := range l.attrs {
			if strings.Contains(v, "secret-token") {
				t.Errorf("a log line carries a token: %v", l.attrs)
			}
		}
	}
}

func TestOutageLinesNeverCarryAPasswordInTheEndpointURL(t *testing.T) {
	ep := newEndpoint(t, status(http.StatusBadGateway, ""))
	logs := &logRecorder{}
	c := newClient(t, ep, newClock(), func(cfg *Config) {
		cfg.Endpoint = strings.Replace(ep.URL, "http://", "http://proxy:hunter2@", 1)
		cfg.Logger = slog.New(logs)
	})
	_, err := c.Verify(context.Background(), goodToken)
	wantRefusal(t, err, tgerrors.Unavailable)
	lines := logs.take()
	if len(lines) != 1 || lines[0].attrs["endpoint"] == "" {
		t.Fatalf("lines %v, want one naming the endpoint", lines)
	}
	for _, v := range lines[0].attrs {
		if strings.Contains(v, "hunter2") {
			t.Errorf("the line carries the endpoint's password: %v", lines[0].attrs)
		}
	}
}
