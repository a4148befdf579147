package redisstore

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Ready reports whether Redis answers: a PING (an EVAL of "return 1" on a
// client that is only a redis.Scripter; on a Cluster, one to every
// master, so that a dead master's slots count) under ctx's deadline and
// never longer than Timeout + ConnectTimeout. It returns nil when every
// server answered, or the first error. It takes no token and does not
// touch the store's switches: a store whose Redis is down still answers
// every decision by its outage policy, so whether that makes the process
// unready is the caller's choice (see the health package).
func (s *Store) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout+s.cfg.ConnectTimeout)
	defer cancel()
	done := make(chan error, 1)
	// The PING runs on a goroutine of its own so that a client built
	// without ContextTimeoutEnabled is abandoned at the deadline.
	go func() {
		if s.cluster != nil {
			done <- s.cluster.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
				return c.Ping(ctx).Err()
			})
			return
		}
		if p, ok := s.cfg.Client.(interface {
			Ping(context.Context) *redis.StatusCmd
		}); ok {
			done <- p.Ping(ctx).Err()
			return
		}
		// A bare Scripter: the cheapest command it has.
		done <- s.cfg.Client.Eval(ctx, "return 1", nil).Err()
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("redisstore: redis did not answer: %w", err)
	}
	return nil
}
