package redisstore

import (
	"context"
	stderrors "errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/ratelimit"
)

// Config configures New. Only Client is required.
type Config struct {
	// Client is the Redis connection: a *redis.Client, a
	// *redis.ClusterClient or a failover client. Required. Build it with
	// ContextTimeoutEnabled: true so that Timeout bounds each decision;
	// otherwise its ReadTimeout (3 s by default) does.
	Client redis.UniversalClient

	// Prefix starts every key the store writes. It must not contain '{'
	// or '}', which would break the hash tag. Default: "tollgate:rl:".
	Prefix string

	// Timeout bounds one decision's round trip. A decision that takes
	// longer counts as Redis being unavailable. Default: 100 ms.
	Timeout time.Duration

	// FailClosed refuses every request with 503 unavailable while Redis is
	// unavailable. Default: false: requests are decided by Fallback, so
	// limits still hold, per replica instead of across them.
	FailClosed bool

	// Fallback decides while Redis is unavailable and FailClosed is false.
	// Default: a ratelimit.MemoryStore with its defaults.
	Fallback ratelimit.Store

	// RetryInterval is how long, after Redis failed, the store decides
	// without it before one request tries Redis again. Default: 1 s.
	RetryInterval time.Duration

	// Logger receives one error when Redis becomes unavailable and one
	// message when it is back. Default: slog.Default().
	Logger *slog.Logger

	// Now is the clock for RetryInterval. Buckets themselves run on the
	// Redis server's clock. Default: time.Now.
	Now func() time.Time
}

// Store is a ratelimit.Store whose buckets live in Redis, so every replica
// draws on one budget per key. Each decision is one round trip: a Lua
// script that reads the server's clock (TIME), refills and checks every
// limit of the key, and takes a token from each only if all have one. It is
// safe for concurrent use.
type Store struct {
	cfg     Config
	retryNs int64
	// downUntil is zero while Redis answers; otherwise the Unix nanosecond
	// before which no request tries Redis.
	downUntil atomic.Int64
}

// New returns a Store. It panics if Client is nil or Prefix contains a
// brace.
func New(cfg Config) *Store {
	if cfg.Client == nil {
		panic("redisstore.New: nil Client")
	}
	if strings.ContainsAny(cfg.Prefix, "{}") {
		panic("redisstore.New: Prefix must not contain '{' or '}'")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "tollgate:rl:"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 100 * time.Millisecond
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Fallback == nil && !cfg.FailClosed {
		cfg.Fallback = ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	}
	return &Store{cfg: cfg, retryNs: int64(cfg.RetryInterval)}
}

// Allow implements ratelimit.Store. While Redis is unavailable it answers
// from Fallback, or, with FailClosed, returns an *errors.Error of kind
// Unavailable, which the middleware writes as 503.
func (s *Store) Allow(ctx context.Context, key string, limits []ratelimit.Limit) (ratelimit.Decision, error) {
	now := s.cfg.Now().UnixNano()
	if until := s.downUntil.Load(); until != 0 {
		// Redis failed recently: only the first request after
		// RetryInterval tries it again; the others do not wait on it.
		if now < until || !s.downUntil.CompareAndSwap(until, now+s.retryNs) {
			return s.degraded(ctx, key, limits, nil)
		}
	}
	d, err := s.decide(ctx, key, limits)
	if err == nil {
		if s.downUntil.Swap(0) != 0 {
			s.cfg.Logger.Info("ratelimit: redis is back; limits are shared again")
		}
		return d, nil
	}
	if ctx.Err() != nil {
		// The client went away; that says nothing about Redis.
		return ratelimit.Decision{}, err
	}
	if s.downUntil.Swap(now+s.retryNs) == 0 {
		policy := "failing open onto a local limiter"
		if s.cfg.FailClosed {
			policy = "failing closed with 503"
		}
		s.cfg.Logger.Error("ratelimit: redis unavailable; "+policy, "err", err, "retry_interval", s.cfg.RetryInterval)
	}
	return s.degraded(ctx, key, limits, err)
}

func (s *Store) degraded(ctx context.Context, key string, limits []ratelimit.Limit, cause error) (ratelimit.Decision, error) {
	if s.cfg.FailClosed {
		if cause == nil {
			cause = stderrors.New("redis unavailable")
		}
		return ratelimit.Decision{}, &errors.Error{Kind: errors.Unavailable, RetryAfter: s.cfg.RetryInterval, Err: cause}
	}
	return s.cfg.Fallback.Allow(ctx, key, limits)
}

// decide runs the script: one round trip once the script is cached on the
// server (the first call per server sends it with EVAL).
func (s *Store) decide(ctx context.Context, key string, limits []ratelimit.Limit) (ratelimit.Decision, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	keys := make([]string, len(limits))
	args := make([]any, 0, 2*len(limits))
	base := s.cfg.Prefix + "{" + key + "}:"
	for i, l := range limits {
		name := l.Name
		if name == "" {
			name = strconv.Itoa(i)
		}
		keys[i] = base + name
		args = append(args, l.Capacity(), float64(l.Per)/float64(l.Events)/1e3)
	}
	res, err := script.Run(ctx, s.cfg.Client, keys, args...).Int64Slice()
	if err != nil {
		return ratelimit.Decision{}, err
	}
	if len(res) != 2+3*len(limits) {
		return ratelimit.Decision{}, fmt.Errorf("redisstore: script returned %d values for %d limits", len(res), len(limits))
	}
	var buf [4]ratelimit.LimitState
	states := buf[:0]
	for i, l := range limits {
		r := res[2+3*i:]
		states = append(states, ratelimit.LimitState{
			Limit:      l.Capacity(),
			Remaining:  int(r[0]),
			Reset:      time.Duration(r[1]) * time.Microsecond,
			RetryAfter: time.Duration(r[2]) * time.Microsecond,
		})
	}
	d := ratelimit.Combine(states)
	d.At = time.Unix(res[0], res[1]*1e3)
	return d, nil
}

// script decides one request against every limit of a key. KEYS are one
// hash per limit, all in one hash slot; ARGV holds, per limit, its capacity
// and the microseconds one token takes to come back. Each hash holds the
// tokens left (t), when they were counted (ts, microseconds on the server's
// clock) and the capacity they were counted against (c), so a change of
// plan carries what was used over. Times never run backwards: a clock
// behind ts refills nothing. Nothing is written on a refusal.
//
// It returns the server time (seconds, microseconds), then per limit the
// whole tokens left, microseconds until full, and microseconds until a
// token is back (0 if the limit had one).
var script = redis.NewScript(`
local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000000 + tonumber(tm[2])
local n = #KEYS
local tokens, stamps = {}, {}
local allowed = true
for i = 1, n do
  local cap = tonumber(ARGV[2*i-1])
  local per = tonumber(ARGV[2*i])
  local v = redis.call('HMGET', KEYS[i], 't', 'ts', 'c')
  local t, ts, c = tonumber(v[1]), tonumber(v[2]), tonumber(v[3])
  if t == nil or ts == nil or c == nil then
    t, ts = cap, now
  else
    if c ~= cap then t = math.max(0, cap - (c - t)) end
    if now > ts then
      t = math.min(cap, t + (now - ts) / per)
      ts = now
    end
  end
  tokens[i], stamps[i] = t, ts
  if t < 1 then allowed = false end
end
local out = {tonumber(tm[1]), tonumber(tm[2])}
for i = 1, n do
  local cap = tonumber(ARGV[2*i-1])
  local per = tonumber(ARGV[2*i])
  local t = tokens[i]
  local retry = 0
  if allowed then
    t = t - 1
    local full = math.ceil((cap - t) * per)
    redis.call('HSET', KEYS[i], 't', string.format('%.9f', t), 'ts', string.format('%.0f', stamps[i]), 'c', cap)
    redis.call('PEXPIRE', KEYS[i], math.ceil(full / 1000) + 1000)
  elseif t < 1 then
    retry = math.ceil((1 - t) * per)
  end
  out[#out+1] = math.floor(t)
  out[#out+1] = math.ceil((cap - t) * per)
  out[#out+1] = retry
end
return out
`)
