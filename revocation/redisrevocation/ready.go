package redisrevocation

import (
	"context"
	stderrors "errors"
	"fmt"
)

// ErrNoEpoch is returned by Ready when Redis answers but does not hold the
// list's epoch key: it lost the list (or never had one) and no Restore has
// run since, so every check follows the outage policy.
var ErrNoEpoch = stderrors.New("redisrevocation: redis does not hold the revocation list's epoch (run Restore)")

// Ready reports whether the store can answer checks: one EXISTS of the
// list's epoch key, which is the PING too, under ctx's deadline and never
// longer than Config.Timeout. It returns nil when Redis answered and holds
// the epoch, ErrNoEpoch when it answered without it, and the client's
// error otherwise. It writes nothing and starts no Restore; it is meant for
// a readiness probe (see the health package).
func (s *Store) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	exists := func() {
		n, err := s.client.Exists(ctx, s.epochKey).Result()
		done <- result{n, err}
	}
	if s.direct {
		exists()
	} else {
		// A client that does not honour the deadline is abandoned at it, as
		// in a check.
		go exists()
	}
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		r.err = ctx.Err()
	}
	switch {
	case r.err != nil:
		return fmt.Errorf("redisrevocation: redis did not answer: %w", r.err)
	case r.n != 1:
		return ErrNoEpoch
	}
	return nil
}
