package middleware

import (
	"context"
	stderrors "errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/internal/ratelog"
	"github.com/tollgate/tollgate/principal"
)

// refusalLines keeps the refusal lines written through it, with their
// level and attributes.
type refusalLines struct {
	mu    sync.Mutex
	lines []refusalLine
}

type refusalLine struct {
	level slog.Level
	attrs map[string]string
}

func (h *refusalLines) Enabled(context.Context, slog.Level) bool { return true }
func (h *refusalLines) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "tollgate: request refused" {
		return nil // another test's verifier refreshing keys in the background
	}
	l := refusalLine{r.Level, map[string]string{}}
	r.Attrs(func(a slog.Attr) bool { l.attrs[a.Key] = a.Value.String(); return true })
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lines = append(h.lines, l)
	return nil
}
func (h *refusalLines) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *refusalLines) WithGroup(string) slog.Handler      { return h }

// take returns the lines written since the last take.
func (h *refusalLines) take() []refusalLine {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := h.lines
	h.lines = nil
	return l
}

// logTo makes slog.Default write to h for the rest of the test.
func logTo(t *testing.T, h slog.Handler) {
	prev := slog.Default()
	t.Cleanup(func() { slog.SetDefault(prev) })
	slog.SetDefault(slog.New(h))
}

// refusing is a Verifier that refuses every token: tokens starting with
// "down" as unavailable, the others as invalid_token.
var refusing = VerifierFunc(func(_ context.Context, token string) (*principal.Principal, error) {
	if strings.HasPrefix(token, "down") {
		return nil, tgerrors.Wrap(tgerrors.Unavailable, "", stderrors.New("introspection endpoint unreachable"))
	}
	return nil, tgerrors.New(tgerrors.InvalidToken, "")
})

// refuse sends n requests concurrently through h, each with a token of its
// own made by token, and checks every one was refused with want.
func refuse(t *testing.T, h http.Handler, n int, want int, token func(i int) string) {
	t.Helper()
	const workers = 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				req := httptest.NewRequest("GET", "/", nil)
				if tok := token(i); tok != "" {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != want {
					t.Errorf("request %d: %d, want %d", i, rec.Code, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

var reached = http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("the handler was reached") })

func TestTheDefaultRefusalLogWritesABoundedNumberOfLinesUnderAFlood(t *testing.T) {
	logs := &refusalLines{}
	logTo(t, logs)
	h := tgerrors.Use(tgerrors.OAuth)(Authenticate(refusing)(reached))

	refuse(t, h, 10_000, http.StatusUnauthorized, func(i int) string { return "forged-secret-token-" + string(rune('a'+i%26)) })
	refuse(t, h, 10_000, http.StatusUnauthorized, func(int) string { return "" })
	refuse(t, h, 10, http.StatusServiceUnavailable, func(int) string { return "down-secret-token" })

	lines := logs.take()
	kinds := map[string]int{}
	for _, l := range lines {
		kinds[l.attrs["kind"]]++
		for _, v := range l.attrs {
			if strings.Contains(v, "secret-token") {
				t.Errorf("a line carries the token: %v", l.attrs)
			}
		}
	}
	// One line per kind: the floods of forged and of missing tokens do not
	// hide each other nor the outage.
	want := map[string]int{"invalid_token": 1, "missing_token": 1, "unavailable": 1}
	if len(lines) != 3 || kinds["invalid_token"] != 1 || kinds["missing_token"] != 1 || kinds["unavailable"] != 1 {
		t.Errorf("20,010 refusals wrote %d lines by kind %v, want %v", len(lines), kinds, want)
	}
}

func TestTheNextRefusalLineAfterTheIntervalCarriesTheCountDropped(t *testing.T) {
	logs := &refusalLines{}
	logTo(t, logs)
	clock := authtest.NewClock(time.Unix(1_900_000_000, 0))
	h := tgerrors.Use(tgerrors.OAuth)(Authenticate(refusing, OnRefusal(newRefusalLog(clock.Now)))(reached))

	refuse(t, h, 10_000, http.StatusUnauthorized, func(int) string { return "forged-secret-token" })
	refuse(t, h, 1, http.StatusServiceUnavailable, func(int) string { return "down-secret-token" })
	lines := logs.take()
	if len(lines) != 2 || lines[0].attrs["dropped"] != "" || lines[1].level != slog.LevelWarn {
		t.Fatalf("10,000 forged tokens and an outage: %d lines (%v…), want one line each, no drop count yet", len(lines), lines[:min(len(lines), 3)])
	}

	clock.Advance(ratelog.DefaultInterval - time.Nanosecond)
	refuse(t, h, 1, http.StatusUnauthorized, func(int) string { return "forged-secret-token" })
	if lines := logs.take(); len(lines) != 0 {
		t.Fatalf("within the interval: %d lines, want none", len(lines))
	}

	clock.Advance(time.Nanosecond)
	refuse(t, h, 1, http.StatusUnauthorized, func(int) string { return "forged-secret-token" })
	lines = logs.take()
	if len(lines) != 1 || lines[0].level != slog.LevelInfo || lines[0].attrs["kind"] != "invalid_token" || lines[0].attrs["dropped"] != "10000" {
		t.Fatalf("after the interval: %d lines (%v…), want one invalid_token line with dropped=10000", len(lines), lines[:min(len(lines), 3)])
	}
}

func TestADroppedRefusalLineCostsNoAllocation(t *testing.T) {
	logTo(t, &refusalLines{})
	log := newRefusalLog(nil)
	r := httptest.NewRequest("GET", "/", nil)
	ref := Refusal{Kind: tgerrors.Unavailable, Issuer: "https://auth.example.com/", ClientID: "shop-42",
		Err: stderrors.New("introspection endpoint unreachable")}
	log(r, ref) // the line of the interval
	if n := testing.AllocsPerRun(1000, func() { log(r, ref) }); n != 0 {
		t.Errorf("a dropped refusal line: %g allocations, want 0", n)
	}
}

func TestRefusalLinesOfKindsOfTheApplicationShareOneKey(t *testing.T) {
	logs := &refusalLines{}
	logTo(t, logs)
	log := newRefusalLog(nil)
	r := httptest.NewRequest("GET", "/", nil)
	// A Verifier may return kinds of its own; however many, they cost one
	// key between them, so the limiter's state stays bounded.
	for _, k := range []string{"custom_a", "custom_b", "custom_c"} {
		log(r, Refusal{Kind: tgerrors.Kind(k)})
	}
	log(r, Refusal{Kind: tgerrors.ExpiredToken})
	lines := logs.take()
	if len(lines) != 2 || lines[0].attrs["kind"] != "custom_a" || lines[1].attrs["kind"] != "expired_token" {
		t.Errorf("lines %v, want custom_a then expired_token", lines)
	}
}
