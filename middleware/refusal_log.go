package middleware

import (
	"log/slog"
	"net/http"
	"time"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/internal/ratelog"
)

// newRefusalLog returns the default refusal hook of one Authenticate. It
// logs through slog.Default: unavailable at Warn, every other kind at Info,
// with kind, issuer and client id when known, and the internal cause; never
// the token.
//
// A client spraying forged tokens would otherwise write a line per request,
// so at most one line per kind is written every ratelog.DefaultInterval
// (10s), and the next line of a kind carries "dropped", the count left out
// since the last. The limit is per kind so that a flood of one
// (invalid_token from a forger) does not hide another (unavailable in an
// outage). A dropped line costs a clock read and a map lookup under a mutex,
// and no allocation. now is the clock (time.Now if nil).
func newRefusalLog(now func() time.Time) func(*http.Request, Refusal) {
	limit := ratelog.New(ratelog.DefaultInterval, now)
	return func(r *http.Request, ref Refusal) { logRefusal(limit, r, ref) }
}

// logRefusal writes ref's line if its kind's interval allows.
func logRefusal(limit *ratelog.Limiter, r *http.Request, ref Refusal) {
	level := slog.LevelInfo
	if ref.Kind == tgerrors.Unavailable {
		level = slog.LevelWarn
	}
	ctx := r.Context()
	logger := slog.Default()
	if !logger.Enabled(ctx, level) {
		return
	}
	ok, dropped := limit.Allow(refusalLogKey(ref.Kind))
	if !ok {
		return
	}
	attrs := make([]slog.Attr, 0, 5)
	attrs = append(attrs, slog.String("kind", string(ref.Kind)))
	if ref.Issuer != "" {
		attrs = append(attrs, slog.String("issuer", ref.Issuer))
	}
	if ref.ClientID != "" {
		attrs = append(attrs, slog.String("client_id", ref.ClientID))
	}
	if ref.Err != nil {
		attrs = append(attrs, slog.String("cause", ref.Err.Error()))
	}
	if dropped > 0 {
		attrs = append(attrs, slog.Int64("dropped", dropped))
	}
	logger.LogAttrs(ctx, level, "tollgate: request refused", attrs...)
}

// refusalLogKey is the rate limiter's key for a refusal of kind: the kind
// itself for tollgate's kinds, one key shared by every kind a Verifier of
// the application makes up, so that the limiter's state stays bounded
// whatever kinds it is given.
func refusalLogKey(kind tgerrors.Kind) string {
	switch kind {
	case tgerrors.MissingToken, tgerrors.InvalidRequest, tgerrors.InvalidToken, tgerrors.ExpiredToken,
		tgerrors.InsufficientScope, tgerrors.WrongTokenType, tgerrors.Forbidden, tgerrors.IPDenied,
		tgerrors.RateLimited, tgerrors.Unavailable, tgerrors.Validation, tgerrors.Syntax:
		return string(kind)
	}
	return "other"
}
