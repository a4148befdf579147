package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/internal/ratelog"
)

// LogRedisThroughSlog routes go-redis's own log lines (a failed dial, a
// bad pool connection), which go-redis writes to stderr by default, one
// line per attempt, to logger (slog.Default() if nil) at Warn level, at
// most one line per message kind every interval (ratelog.DefaultInterval,
// 10 s, if zero), the next one saying how many were dropped. A Redis that
// is down then costs a line every ten seconds, not one per dial.
//
// go-redis has one logger for the whole process (redis.SetLogger), shared
// by every client, tollgate's or not. That is why New does not call this:
// call it once at start-up if you want it, before making clients.
func LogRedisThroughSlog(logger *slog.Logger, interval time.Duration) {
	redis.SetLogger(&redisLogger{logger: logger, limit: ratelog.New(interval, nil)})
}

// redisLogger is a go-redis internal.Logging on slog. A line's kind is its
// format string, a constant in go-redis's code, so the kinds are few and
// no request data ever names one.
type redisLogger struct {
	logger *slog.Logger
	limit  *ratelog.Limiter
}

func (l *redisLogger) Printf(ctx context.Context, format string, v ...any) {
	if ctx == nil {
		ctx = context.Background()
	}
	logger := l.logger
	if logger == nil {
		logger = slog.Default()
	}
	if !logger.Enabled(ctx, slog.LevelWarn) {
		return
	}
	if ok, dropped := l.limit.Allow("go-redis:" + format); ok {
		attrs := []slog.Attr{slog.String("source", "go-redis")}
		if dropped > 0 {
			attrs = append(attrs, slog.Int64("dropped", dropped))
		}
		logger.LogAttrs(ctx, slog.LevelWarn, fmt.Sprintf(format, v...), attrs...)
	}
}
