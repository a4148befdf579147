package redisrevocation

import (
	"context"
	stderrors "errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/revocation"
)

// DefaultPrefix is the key prefix when Config.Prefix is empty.
const DefaultPrefix = "tollgate:revoked:"

// Config configures a Store. The zero value is ready to use.
type Config struct {
	// Prefix starts every key, to share a Redis with other data.
	// Empty means DefaultPrefix.
	Prefix string
	// Now is the clock, used to skip revocations whose until has passed.
	// Nil means time.Now. Redis's own clock expires the keys.
	Now func() time.Time
}

// Store is a revocation list in Redis; it is a revocation.Checker and safe
// for concurrent use.
type Store struct {
	client redis.UniversalClient
	prefix string
	now    func() time.Time
}

var _ revocation.Checker = (*Store)(nil)

// New returns a Store on client. It does not contact Redis.
func New(client redis.UniversalClient, cfg Config) *Store {
	s := &Store{client: client, prefix: cfg.Prefix, now: cfg.Now}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

var errEmptyID = stderrors.New("redisrevocation: empty token ID")

// RevokeID revokes every token whose Principal.TokenID is jti, until until
// (the token's exp; zero for ever). An until already past does nothing.
func (s *Store) RevokeID(ctx context.Context, jti string, until time.Time) error {
	if jti == "" {
		return errEmptyID
	}
	return s.set(ctx, s.idKey(jti), until)
}

// RevokeToken revokes token itself, until until (the token's exp; zero for
// ever). Only its revocation.TokenHash is stored, which for a JWT covers the
// signing input, so that every signature of it is revoked too. An until already past does nothing.
func (s *Store) RevokeToken(ctx context.Context, token string, until time.Time) error {
	return s.set(ctx, s.tokenKey(token), until)
}

func (s *Store) set(ctx context.Context, key string, until time.Time) error {
	var err error
	if until.IsZero() {
		err = s.client.Set(ctx, key, "1", 0).Err()
	} else {
		if !until.After(s.now()) {
			return nil
		}
		// Rounded up, so the key outlives the token rather than the
		// reverse.
		ms := (until.UnixNano() + int64(time.Millisecond) - 1) / int64(time.Millisecond)
		err = s.client.Do(ctx, "SET", key, "1", "PXAT", ms).Err()
	}
	if err != nil {
		return fmt.Errorf("redisrevocation: revoking: %w", err)
	}
	return nil
}

// Revoked reports whether p.TokenID() or token has been revoked, in one round
// trip. On a Redis error it returns an *errors.Error of kind Unavailable, and
// the caller must refuse the request.
func (s *Store) Revoked(ctx context.Context, token string, p *principal.Principal) (bool, error) {
	var n int64
	var err error
	if p == nil || p.TokenID() == "" {
		n, err = s.client.Exists(ctx, s.tokenKey(token)).Result()
	} else {
		var id, tok *redis.IntCmd
		_, err = s.client.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			id = pipe.Exists(ctx, s.idKey(p.TokenID()))
			tok = pipe.Exists(ctx, s.tokenKey(token))
			return nil
		})
		if err == nil {
			n = id.Val() + tok.Val()
		}
	}
	if err != nil {
		return false, tgerrors.Wrap(tgerrors.Unavailable, "The service is temporarily unavailable",
			fmt.Errorf("redisrevocation: checking: %w", err))
	}
	return n > 0, nil
}

func (s *Store) idKey(jti string) string { return s.prefix + "jti:" + jti }

func (s *Store) tokenKey(token string) string { return s.prefix + "tok:" + revocation.TokenHash(token) }
