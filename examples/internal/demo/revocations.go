package demo

import (
	"context"
	"time"

	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/revocation"
)

// SessionRevocations refuses access tokens by their session ("sid"): a
// revocation.Memory (through MemorySessions) or a redisrevocation.Store.
// An example ends a session in it when a refresh token is reused or the
// user logs out.
type SessionRevocations interface {
	middleware.RevocationChecker
	RevokeSession(ctx context.Context, sid string, until time.Time) error
}

// MemorySessions is a revocation.Memory as SessionRevocations.
type MemorySessions struct{ *revocation.Memory }

// RevokeSession refuses the tokens of session sid until then; the memory
// list needs no context.
func (m MemorySessions) RevokeSession(_ context.Context, sid string, until time.Time) error {
	return m.Memory.RevokeSession(sid, until)
}
