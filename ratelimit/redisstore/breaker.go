package redisstore

import (
	"context"
	stderrors "errors"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// breaker is the switch for the keys one Redis server serves (the one
// server, or one master of a Cluster): closed while decisions on it
// succeed, tripped after Config.TripAfter in a row fail, so that the keys
// it serves follow the outage policy without waiting on it, and closed
// again by the first decision that succeeds.
type breaker struct {
	// fails counts the decisions in a row that failed for the server.
	fails atomic.Int64
	// downUntil is zero while the switch is closed; once tripped, the
	// Unix nanosecond before which no request tries the server (after
	// it, one request does and moves it on by RetryInterval).
	downUntil atomic.Int64
}

// errTripped is the cause of a decision made without asking Redis
// because its switch is tripped.
var errTripped = stderrors.New("redisstore: redis marked unavailable after repeated failures")

// isOutage reports whether err, from a decision on Redis, says the server
// cannot serve decisions (it did not answer in time, the connection failed,
// or it answered that it cannot serve: loading, busy with a script, read
// only, cluster down, out of memory, no replicas, too many clients, bad
// credentials), which counts toward tripping its switch. Any other reply
// from Redis (CROSSSLOT, WRONGTYPE, an error in the script) is about the
// key it was asked: the server is up and every other key is fine, so it
// counts toward nothing.
func isOutage(err error) bool {
	if err == nil {
		return false
	}
	var reply redis.Error
	if !stderrors.As(err, &reply) {
		return !stderrors.Is(err, errBadReply)
	}
	if _, moved := redis.IsMovedError(err); moved {
		return true // redirected past MaxRedirects: the slot map is in flux
	}
	if _, ask := redis.IsAskError(err); ask {
		return true
	}
	return redis.IsLoadingError(err) || redis.IsReadOnlyError(err) || redis.IsClusterDownError(err) ||
		redis.IsTryAgainError(err) || redis.IsMasterDownError(err) || redis.IsMaxClientsError(err) ||
		redis.IsOOMError(err) || redis.IsNoReplicasError(err) || redis.IsAuthError(err) ||
		redis.IsPermissionError(err) || redis.HasErrorPrefix(err, "BUSY") || redis.HasErrorPrefix(err, "MISCONF")
}

// errBadReply marks a reply the store could not read: the script answered,
// with something else than it should, which is about that decision.
var errBadReply = stderrors.New("redisstore: unexpected reply from the script")

// clientGone reports whether the decision failed because the request's own
// context ended: that says nothing about Redis.
func clientGone(ctx context.Context) bool { return ctx.Err() != nil }
