// Package ratelog keeps tollgate's log lines from flooding: a line of one
// kind is written at most once per interval, and the next one written says
// how many of its kind were dropped in between.
//
// A refusal log under a token-spraying client, or an outage log while Redis
// is down, would otherwise write a line per request. Kinds are a small fixed
// set named in code (a layer and an event: "authenticate.refusal",
// "redisstore.outage"), never request data, so the state is bounded.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultInterval is the interval New uses when given zero.
const DefaultInterval = 10 * time.Second

// Limiter passes one line per kind per interval. The zero value is not
// usable; call New. It is safe for concurrent use.
type Limiter struct {
	interval time.Duration
	now      func() time.Time

	mu    sync.Mutex
	kinds map[string]*kindState
}

type kindState struct {
	next    time.Time
	dropped int64
}

// New returns a Limiter that passes one line per kind every interval
// (DefaultInterval if zero or negative). now is the clock (time.Now if nil).
func New(interval time.Duration, now func() time.Time) *Limiter {
	if interval <= 0 {
		interval = DefaultInterval
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter{interval: interval, now: now, kinds: map[string]*kindState{}}
}

// Allow reports whether a line of kind may be written now and, if so, how
// many lines of that kind were dropped since the last one written.
func (l *Limiter) Allow(kind string) (ok bool, dropped int64) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.kinds[kind]
	if s == nil {
		s = &kindState{}
		l.kinds[kind] = s
	}
	if now.Before(s.next) {
		s.dropped++
		return false, 0
	}
	dropped, s.dropped = s.dropped, 0
	s.next = now.Add(l.interval)
	return true, dropped
}

// Log writes the line to logger (slog.Default() if nil) if kind's interval
// allows, with a "dropped" attribute when lines of its kind were dropped
// since the last one.
func (l *Limiter) Log(ctx context.Context, logger *slog.Logger, level slog.Level, kind, msg string, attrs ...slog.Attr) {
	if logger == nil {
		logger = slog.Default()
	}
	if !logger.Enabled(ctx, level) {
		return
	}
	ok, dropped := l.Allow(kind)
	if !ok {
		return
	}
	if dropped > 0 {
		attrs = append(attrs, slog.Int64("dropped", dropped))
	}
	logger.LogAttrs(ctx, level, msg, attrs...)
}
