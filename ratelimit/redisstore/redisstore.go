package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/observe"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/internal/ratelog"
	"github.com/tollgate/tollgate/ratelimit"
)

// Config configures New. Only Client is required; the zero value of every
// other field is the default documented on it.
type Config struct {
	// Client is the Redis connection: any go-redis redis.Scripter, which
	// is all the store needs to run its script. A *redis.Client (a
	// failover client is one too) or a *redis.ClusterClient, as
	// redis.NewUniversalClient makes them, get the most of it: the store
	// watches their pools to set each decision's deadline (see
	// ConnectTimeout) and follows a Cluster's masters one by one (see
	// TripAfter). A *redis.AutoPipeliner batches concurrent decisions
	// into pipelines, so many requests share a round trip. Required.
	// Build it with ContextTimeoutEnabled: true, so that Timeout and
	// ConnectTimeout bound each decision; otherwise its ReadTimeout (3 s
	// by default) does. The store never lets go-redis retry a decision: one
	// that timed out may have run, and running it again would take a
	// second token. (A Scripter that is not a go-redis client, without
	// its Process method, runs EVALSHA its own way, with whatever retries
	// it makes.)
	Client redis.Scripter

	// Prefix starts every key the store writes. It must not contain '{'
	// or '}', which would break the hash tag. Default: "tollgate:rl:".
	Prefix string

	// Timeout bounds one decision on a connection that is ready: while the
	// client holds more idle connections to the key's server than the
	// store has decisions in flight there. A decision that takes longer
	// has failed (see TripAfter). Default: 100 ms.
	Timeout time.Duration

	// ConnectTimeout is added to Timeout for a decision that may have to
	// get a connection first (when the client's idle connections to the
	// key's server are no more than the store's decisions in flight
	// there): wait for one from the pool, or set up a new one, which
	// takes round trips of its own (TCP, HELLO, CLIENT SETINFO). A Redis
	// 25 ms away needs more than a 100 ms Timeout for those and the
	// decision together, and that says nothing about Redis being slow. No
	// decision takes longer than Timeout + ConnectTimeout (on a Cluster,
	// as long again to load its slot map, the first time). New also opens
	// a few connections and loads the script in the background, so the
	// first requests seldom need it. With a client other than a
	// *redis.Client or *redis.ClusterClient (a Ring), whose pools the
	// store cannot see, every decision has Timeout alone. Default: 500 ms.
	ConnectTimeout time.Duration

	// TripAfter is how many decisions in a row must fail on one Redis
	// server (the one server, or the master serving the key's slot on a
	// Cluster) before its keys are switched to the outage policy without
	// asking it. One slow reply or a lost connection is not an outage: a
	// decision that fails before the switch trips follows the outage
	// policy for that request alone (FailClosed: 503; otherwise Fallback
	// decides it), and the next one asks Redis again. A reply that is
	// about the key rather than the server (CROSSSLOT, WRONGTYPE) follows
	// the policy for that request and counts toward nothing. Default: 5.
	TripAfter int

	// RetryInterval is how long, once the switch tripped, the server's
	// keys are decided without it before one request tries it again. When
	// that request succeeds, the keys are back on Redis. Default: 1 s.
	RetryInterval time.Duration

	// FailClosed refuses with 503 unavailable (and Retry-After:
	// RetryInterval) every request Redis cannot decide: a failed decision,
	// and every request while the switch is tripped. Default: false: they
	// are decided by Fallback, so limits still hold, each replica
	// enforcing its share.
	FailClosed bool

	// Fallback decides the requests Redis cannot, when FailClosed is
	// false. Default: a ratelimit.MemoryStore with its defaults. A
	// Fallback with MemoryStore's Observe method (the default, or your
	// own MemoryStore) is told what Redis said after every decision, so
	// it never starts a key from a full bucket when Redis had it spent:
	// it starts from what Redis last said of it. Every request it admits
	// is charged to Redis at the key's next decision there.
	Fallback ratelimit.Store

	// Replicas is how many replicas share the limits through this Redis.
	// While Redis cannot decide, each replica's Fallback enforces its
	// fair share: every limit's capacity (rounded down, at least 1) and
	// rate divided by Replicas, starting from what Redis last said the
	// key had left, shared out the same way. N replicas together then
	// admit no more than the limit, even for keys they all serve.
	// Default: 1 (one replica, or limits per replica during an outage).
	Replicas int

	// Logger receives one error when a server's switch trips and one
	// message when it is back, at most one line of each every 10 seconds
	// (with the count of those dropped), and a warning for replies about
	// one key, as rarely. Default: slog.Default(). To route go-redis's own
	// lines (failed dials) too, see LogRedisThroughSlog.
	Logger *slog.Logger

	// Observer receives an observe.StoreState each time a server's switch
	// trips (State observe.StoreFallback: decisions follow the outage
	// policy, the Fallback's or 503 with FailClosed) and each time it is
	// back (observe.StoreRemote). Nil reports nothing.
	Observer *observe.Observer

	// Now is the clock for RetryInterval and the logs' intervals. Buckets
	// themselves run on the Redis server's clock. Default: time.Now.
	Now func() time.Time
}

// Default values of Config.
const (
	DefaultTimeout        = 100 * time.Millisecond
	DefaultConnectTimeout = 500 * time.Millisecond
	DefaultTripAfter      = 5
	DefaultRetryInterval  = time.Second
)

// warmConns is how many connections New opens to each server in the
// background, at most the client's PoolSize.
const warmConns = 4

// Store is a ratelimit.Store whose buckets live in Redis, so every replica
// draws on one budget per key. Each decision is one round trip: a Lua
// script that reads the server's clock (TIME), refills and checks every
// limit of the key, and takes a token from each only if all have one. It is
// safe for concurrent use.
//
// Each Redis server has a switch (see Config.TripAfter): a decision that
// fails follows the outage policy for its own request; TripAfter in a row
// on one server switch the keys it serves to the policy, and after
// RetryInterval one request tries it again. On a Cluster, a master that
// dies affects the keys of its slots only.
type Store struct {
	cfg      Config
	retryNs  int64
	observer observer // Fallback's Observe, if it has one
	cluster  *redis.ClusterClient
	one      node     // the one server's, or a Cluster's as a whole
	nodes    sync.Map // on a Cluster: master address → *node
	log      *ratelog.Limiter
	// reloadAt is the Unix nanosecond of the last slot map reload asked
	// for, on a Cluster.
	reloadAt atomic.Int64
	// fair caches the fair shares of the limits last seen (see Replicas).
	fair  atomic.Pointer[fairShares]
	stats struct{ redis, fallback, failed, trips, recoveries atomic.Uint64 }
	// warmed is closed once New's warm-up is over.
	warmed chan struct{}
	debts  debts
}

// node is one Redis server as the store uses it: its switch, the store's
// decisions in flight there, and its client.
type node struct {
	br       breaker
	addr     string // on a Cluster
	inflight atomic.Int64
	// client is the server's own client, whose pool the store looks at
	// (nil: it cannot see one).
	client atomic.Pointer[redis.Client]
}

// observer is what a Fallback that can be told Redis's state has.
type observer interface {
	Observe(key string, limits []ratelimit.Limit, states []ratelimit.LimitState)
}

// New returns a Store and, in the background, opens a few connections to
// every server and loads the script, so that the first decisions are one
// round trip. It panics if Client is nil, Prefix contains a brace, or a
// duration or count is negative.
func New(cfg Config) *Store {
	if cfg.Client == nil {
		panic("redisstore.New: nil Client")
	}
	if strings.ContainsAny(cfg.Prefix, "{}") {
		panic("redisstore.New: Prefix must not contain '{' or '}'")
	}
	if cfg.Timeout < 0 || cfg.ConnectTimeout < 0 || cfg.RetryInterval < 0 || cfg.TripAfter < 0 || cfg.Replicas < 0 {
		panic("redisstore.New: Timeout, ConnectTimeout, RetryInterval, TripAfter and Replicas must not be negative")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "tollgate:rl:"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.TripAfter == 0 {
		cfg.TripAfter = DefaultTripAfter
	}
	if cfg.RetryInterval == 0 {
		cfg.RetryInterval = DefaultRetryInterval
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.FailClosed {
		cfg.Fallback = nil
	} else if cfg.Fallback == nil {
		cfg.Fallback = ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	}
	s := &Store{cfg: cfg, retryNs: int64(cfg.RetryInterval), log: ratelog.New(ratelog.DefaultInterval, cfg.Now), warmed: make(chan struct{})}
	s.observer, _ = cfg.Fallback.(observer)
	switch c := cfg.Client.(type) {
	case *redis.ClusterClient:
		s.cluster = c
	case *redis.Client:
		s.one.client.Store(c)
	}
	go s.warm()
	return s
}

// warm opens up to warmConns connections to every server and loads the
// script there, within ConnectTimeout and a few seconds more. Failures are
// left for the decisions to find.
func (s *Store) warm() {
	defer close(s.warmed)
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ConnectTimeout+5*time.Second)
	defer cancel()
	warmNode := func(ctx context.Context, c *redis.Client) error {
		var wg sync.WaitGroup
		for range min(warmConns, c.Options().PoolSize) {
			wg.Go(func() { c.Ping(ctx) })
		}
		wg.Wait()
		return script.Load(ctx, c).Err()
	}
	switch {
	case s.cluster != nil:
		s.cluster.ForEachMaster(ctx, warmNode)
	case s.one.client.Load() != nil:
		warmNode(ctx, s.one.client.Load())
	default:
		script.Load(ctx, s.cfg.Client)
	}
}

// Stats counts what a Store did since New, for metrics and tests.
type Stats struct {
	// Redis is how many decisions Redis made.
	Redis uint64
	// Fallback is how many requests Redis did not decide: decided by
	// Fallback, or refused with 503 under FailClosed.
	Fallback uint64
	// Failed is how many decisions on Redis failed (each one's request
	// counted in Fallback too).
	Failed uint64
	// Trips is how many times a server's switch tripped, and Recoveries
	// how many times one closed again.
	Trips, Recoveries uint64
}

// Stats returns the counts so far.
func (s *Store) Stats() Stats {
	return Stats{
		Redis:      s.stats.redis.Load(),
		Fallback:   s.stats.fallback.Load(),
		Failed:     s.stats.failed.Load(),
		Trips:      s.stats.trips.Load(),
		Recoveries: s.stats.recoveries.Load(),
	}
}

// Allow implements ratelimit.Store. A request Redis cannot decide (its
// decision failed, or its server's switch is tripped) is decided by
// Fallback, or, with FailClosed, refused with an *errors.Error of kind
// Unavailable, which the middleware writes as 503.
func (s *Store) Allow(ctx context.Context, key string, limits []ratelimit.Limit) (ratelimit.Decision, error) {
	return s.allowN(ctx, key, limits, 1)
}

// AllowN implements ratelimit.WeightedStore: Allow for a request that
// takes cost tokens from every limit (below 1 counts as 1). In an outage the
// Fallback charges the cost if it is a ratelimit.WeightedStore (the default
// MemoryStore is); a Fallback that is not answers such a request by the
// fail-closed policy (503), since it cannot charge it.
func (s *Store) AllowN(ctx context.Context, key string, limits []ratelimit.Limit, cost int) (ratelimit.Decision, error) {
	return s.allowN(ctx, key, limits, int64(max(cost, 1)))
}

func (s *Store) allowN(ctx context.Context, key string, limits []ratelimit.Limit, cost int64) (ratelimit.Decision, error) {
	keys := redisKeys(s.cfg.Prefix, key, limits)
	now := s.cfg.Now().UnixNano()
	n := &s.one
	if s.cluster != nil {
		// The Cluster as a whole has a switch too, for when no node
		// answers for the slot map.
		if !s.mayAsk(&s.one.br, now) {
			return s.degraded(ctx, key, limits, cost, errTripped)
		}
		var err error
		if n, err = s.route(ctx, keys[0]); err != nil {
			return s.failed(ctx, &s.one, key, limits, cost, err)
		}
		s.succeeded(ctx, &s.one)
	}
	if !s.mayAsk(&n.br, now) {
		s.reloadSlots()
		return s.degraded(ctx, key, limits, cost, errTripped)
	}
	n.inflight.Add(1)
	budget := s.cfg.Timeout
	if !s.connectionReady(n) {
		budget += s.cfg.ConnectTimeout
	}
	dctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	debt := s.debts.take(key, now)
	d, states, err := s.decide(dctx, keys, limits, debt.n, cost)
	n.inflight.Add(-1)
	if err != nil {
		s.debts.add(key, debt) // not paid, or not known to be
		return s.failed(ctx, n, key, limits, cost, err)
	}
	s.stats.redis.Add(1)
	s.succeeded(ctx, n)
	if s.observer != nil {
		s.observer.Observe(key, s.fairShares(limits), states)
	}
	return d, nil
}

// mayAsk reports whether a request may ask the server of switch br at now
// (Unix nanoseconds): yes while it is closed; once tripped, only the first
// request after RetryInterval, which moves the next try on by as much. The
// others do not wait on a server that is down.
func (s *Store) mayAsk(br *breaker, now int64) bool {
	until := br.downUntil.Load()
	return until == 0 || (now >= until && br.downUntil.CompareAndSwap(until, now+s.retryNs))
}

// succeeded records that n answered: its failures in a row start again
// from none, and a tripped switch closes, which is logged.
func (s *Store) succeeded(ctx context.Context, n *node) {
	if n.br.fails.Load() != 0 {
		n.br.fails.Store(0)
	}
	if n.br.downUntil.Load() != 0 && n.br.downUntil.Swap(0) != 0 {
		s.stats.recoveries.Add(1)
		s.cfg.Observer.ReportStoreState(observe.StoreState{Store: StoreName, State: observe.StoreRemote})
		s.log.Log(ctx, s.cfg.Logger, slog.LevelInfo, "redisstore.recovered", "ratelimit: redis is back; limits are shared again", s.nodeAttrs(n)...)
	}
}

// failed handles a decision on Redis that failed with err: if the server
// could not serve it, it counts toward n's switch; either way the request
// follows the outage policy.
func (s *Store) failed(ctx context.Context, n *node, key string, limits []ratelimit.Limit, cost int64, err error) (ratelimit.Decision, error) {
	if clientGone(ctx) {
		// The client went away; that says nothing about Redis.
		return ratelimit.Decision{}, err
	}
	s.stats.failed.Add(1)
	if !isOutage(err) {
		s.log.Log(ctx, s.cfg.Logger, slog.LevelWarn, "redisstore.reply", "ratelimit: redis refused a decision; that request follows the outage policy", slog.Any("err", err))
		return s.degraded(ctx, key, limits, cost, err)
	}
	s.reloadSlots()
	if n.br.fails.Add(1) >= int64(s.cfg.TripAfter) && n.br.downUntil.CompareAndSwap(0, s.cfg.Now().UnixNano()+s.retryNs) {
		s.stats.trips.Add(1)
		s.cfg.Observer.ReportStoreState(observe.StoreState{Store: StoreName, State: observe.StoreFallback})
		policy := "failing open onto a local limiter"
		if s.cfg.FailClosed {
			policy = "failing closed with 503"
		}
		s.log.Log(ctx, s.cfg.Logger, slog.LevelError, "redisstore.unavailable", "ratelimit: redis unavailable; "+policy,
			append(s.nodeAttrs(n), slog.Any("err", err), slog.Int("failures_in_a_row", s.cfg.TripAfter), slog.Duration("retry_interval", s.cfg.RetryInterval))...)
	}
	return s.degraded(ctx, key, limits, cost, err)
}

// degraded decides a request without Redis, by the outage policy. A
// request the fallback admits is owed to Redis: the key's next decision
// there takes it (see debts).
func (s *Store) degraded(ctx context.Context, key string, limits []ratelimit.Limit, cost int64, cause error) (ratelimit.Decision, error) {
	s.stats.fallback.Add(1)
	weighted, canWeigh := s.cfg.Fallback.(ratelimit.WeightedStore)
	if s.cfg.FailClosed || (cost > 1 && !canWeigh) {
		return ratelimit.Decision{}, &errors.Error{Kind: errors.Unavailable, RetryAfter: s.cfg.RetryInterval, Err: cause}
	}
	var d ratelimit.Decision
	var err error
	if cost > 1 {
		d, err = weighted.AllowN(ctx, key, s.fairShares(limits), int(cost))
	} else {
		d, err = s.cfg.Fallback.Allow(ctx, key, s.fairShares(limits))
	}
	if err == nil && d.Allowed {
		var window time.Duration
		for _, l := range limits {
			window = max(window, l.Window())
		}
		s.debts.add(key, debt{n: cost, until: s.cfg.Now().Add(window).UnixNano()})
	}
	return d, err
}

// route returns the master serving key's slot on the Cluster, as the
// client's slot map has it. Loading the map, the first time, is setting up
// a connection: it has Timeout + ConnectTimeout.
func (s *Store) route(ctx context.Context, key string) (*node, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout+s.cfg.ConnectTimeout)
	defer cancel()
	c, err := s.cluster.MasterForKey(ctx, key)
	if err != nil {
		return nil, err
	}
	addr := c.Options().Addr
	v, ok := s.nodes.Load(addr)
	if !ok {
		v, _ = s.nodes.LoadOrStore(addr, &node{addr: addr})
	}
	n := v.(*node)
	if n.client.Load() != c {
		n.client.Store(c) // new to the store, or a new client for the address
	}
	return n, nil
}

// connectionReady reports whether a decision on n should find a connection
// ready: the client holds more idle connections to the server than the
// store has decisions in flight there, this one included. It errs toward
// no, which gives the decision ConnectTimeout more; for a client whose pool
// it cannot see, it says yes.
func (s *Store) connectionReady(n *node) bool {
	c := n.client.Load()
	if c == nil {
		return true
	}
	inflight := n.inflight.Load()
	if inflight >= int64(c.Options().PoolSize) {
		return false // more decisions than connections: some wait
	}
	return int64(c.PoolStats().IdleConns) > inflight
}

// reloadSlots asks a Cluster client to reload its slot map, at most every
// 100 ms. go-redis reloads it on MOVED by itself, but not when a master
// stops answering: then it keeps sending a dead master's slots to it for
// ClusterStateReloadInterval (60 s by default), long after a replica took
// over. Asking on every failure, and while a master's switch is tripped,
// finds the new master within a reload of the failover.
func (s *Store) reloadSlots() {
	if s.cluster == nil {
		return
	}
	now := time.Now().UnixNano()
	last := s.reloadAt.Load()
	if now-last < int64(100*time.Millisecond) || !s.reloadAt.CompareAndSwap(last, now) {
		return
	}
	s.cluster.ReloadState(context.Background())
}

func (s *Store) nodeAttrs(n *node) []slog.Attr {
	if n.addr == "" {
		return nil
	}
	return []slog.Attr{slog.String("node", n.addr)}
}

// fairShares is what limits are in Fallback: with Replicas above one,
// each limit's capacity and rate divided by Replicas (see Config). The
// limits last seen are cached, so the configured ones cost no allocation.
func (s *Store) fairShares(limits []ratelimit.Limit) []ratelimit.Limit {
	n := s.cfg.Replicas
	if n <= 1 || len(limits) == 0 {
		return limits
	}
	if f := s.fair.Load(); f != nil && len(f.of) == len(limits) && &f.of[0] == &limits[0] {
		return f.shares
	}
	shares := make([]ratelimit.Limit, len(limits))
	for i, l := range limits {
		per := l.Per
		if per <= math.MaxInt64/time.Duration(n) {
			per *= time.Duration(n)
		} else {
			per = math.MaxInt64
		}
		shares[i] = ratelimit.Limit{Name: l.Name, Events: l.Events, Per: per, Burst: max(1, l.Capacity()/n)}
	}
	s.fair.Store(&fairShares{of: limits, shares: shares})
	return shares
}

// fairShares are the fair shares of one set of limits.
type fairShares struct{ of, shares []ratelimit.Limit }

// decide runs the script: one round trip once the script is cached on the
// server (New loads it; a server that lost it, or a replica promoted since,
// gets it by EVAL, one round trip more).
func (s *Store) decide(ctx context.Context, keys []string, limits []ratelimit.Limit, debt, cost int64) (ratelimit.Decision, []ratelimit.LimitState, error) {
	args := make([]any, 0, 2+3*len(limits))
	args = append(args, debt)
	for _, l := range limits {
		c, per := int64(l.Capacity()), perToken(l)
		args = append(args, c, per, planTag(c, per))
	}
	args = append(args, cost)
	res, err := runScript(ctx, s.cfg.Client, keys, args)
	if err != nil {
		return ratelimit.Decision{}, nil, err
	}
	if len(res) != 2+len(limits) {
		return ratelimit.Decision{}, nil, fmt.Errorf("%w: %d values for %d limits", errBadReply, len(res), len(limits))
	}
	allowed := res[1] == 1
	states := make([]ratelimit.LimitState, 0, len(limits))
	for i, l := range limits {
		states = append(states, bucketState(int64(l.Capacity()), perToken(l), res[2+i], allowed, cost))
	}
	d := ratelimit.Combine(states)
	d.At = time.UnixMicro(res[0])
	return d, states, nil
}

// bucketState reports a bucket of capacity c whose tokens take per
// microseconds each and that is behind microseconds short of full after
// the decision, in the words of ratelimit.LimitState: the arithmetic of
// ratelimit.MemoryStore, in microseconds.
func bucketState(c, per, behind int64, allowed bool, cost int64) ratelimit.LimitState {
	st := ratelimit.LimitState{Limit: int(c), Remaining: int(c)}
	if !allowed && cost > c {
		st.RetryAfter = time.Duration(c*per) * time.Microsecond // never fits: wait for a full bucket
	}
	if behind <= 0 {
		return st
	}
	short := (behind + per - 1) / per
	st.Remaining = int(max(0, c-short))
	st.Reset = time.Duration(behind) * time.Microsecond
	if tau := (c - cost) * per; !allowed && cost <= c && behind > tau {
		st.RetryAfter = time.Duration(behind-tau) * time.Microsecond
	}
	return st
}

// planTag starts a bucket's value in Redis: its plan, "capacity:per ",
// which the script compares to find a change of plan.
func planTag(c, per int64) string {
	return strconv.FormatInt(c, 10) + ":" + strconv.FormatInt(per, 10) + " "
}

// perToken is the whole microseconds one of l's tokens takes to come back:
// Per/Events rounded up (the server's clock counts microseconds), so less
// than a microsecond a token slower than configured when Per is not a
// whole number of microseconds per event, never faster. MemoryStore rounds
// the same way to the nanosecond; for every limit of whole microseconds
// per event (10 a second, 100 a minute, 1,000 an hour) the two agree
// exactly.
func perToken(l ratelimit.Limit) int64 {
	ns := (int64(l.Per) + int64(l.Events) - 1) / int64(l.Events)
	return (ns + 999) / 1000
}

// runScript sends the script by EVALSHA, and by EVAL if the server does
// not have it, as commands go-redis never retries: a decision that timed
// out may have run, and running it again would take a second token.
func runScript(ctx context.Context, c redis.Scripter, keys []string, args []any) ([]int64, error) {
	p, ok := c.(processor)
	if !ok {
		cmd := c.EvalSha(ctx, script.Hash(), keys, args...)
		if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			cmd = c.Eval(ctx, scriptSource, keys, args...)
		}
		return cmd.Int64Slice()
	}
	cmd := scriptCmd(ctx, "evalsha", script.Hash(), keys, args)
	err := p.Process(ctx, cmd)
	if redis.HasErrorPrefix(err, "NOSCRIPT") {
		cmd = scriptCmd(ctx, "eval", scriptSource, keys, args)
		err = p.Process(ctx, cmd)
	}
	if err != nil {
		return nil, err
	}
	return cmd.Int64Slice()
}

// processor is what every go-redis client is.
type processor interface {
	Process(ctx context.Context, cmd redis.Cmder) error
}

// noRetryCmd is a command go-redis does not retry.
type noRetryCmd struct{ *redis.Cmd }

func (noRetryCmd) NoRetry() bool { return true }

func scriptCmd(ctx context.Context, verb, src string, keys []string, args []any) noRetryCmd {
	a := make([]any, 0, 3+len(keys)+len(args))
	a = append(a, verb, src, len(keys))
	for _, k := range keys {
		a = append(a, k)
	}
	return noRetryCmd{redis.NewCmd(ctx, append(a, args...)...)}
}

// script decides one request against every limit of a key by the same
// algorithm as ratelimit.MemoryStore: each bucket is one number, the time
// it is full again (GCRA's theoretical arrival time), in microseconds on
// the server's clock. KEYS are one string per limit, all in one hash slot;
// ARGV holds the debt (requests admitted without Redis, taken from every
// limit first, whatever the decision), then per limit its capacity, the
// whole microseconds one token takes to come back (see perToken) and its
// plan tag (see planTag).
//
// A bucket's value is its plan tag then its full-again time
// ("100:36000000 1767236645000000"), so that a change of plan carries
// what was used over (the tokens short of full, at most the new capacity,
// as MemoryStore does); a key that has expired, or has none, is a full
// bucket, and a hash of tokens as earlier versions wrote is carried over.
// Any other value there is not a bucket: the script answers WRONGTYPE, and
// the request follows the outage policy, rather than overwrite it. The
// common path is TIME, one GET per limit, a prefix compare, and one SET …
// PX per limit when allowed (the key expires when it would be full,
// leaving no state behind): no hash, no separate PEXPIRE, one
// string.format per write; one limit without debt, the common case, takes
// a path of its own without the tables. A refusal writes nothing unless
// it paid a debt or moved a bucket to a new plan. A clock behind a
// bucket's time refills nothing.
//
// It returns the server time in microseconds, 1 if the request was
// allowed (0 if not), then per limit the microseconds until it is full;
// bucketState reads the rest from those.
var script = redis.NewScript(scriptSource)

const scriptSource = `
local tm = redis.call('TIME')
local now = tm[1] * 1000000 + tm[2]
local debt = tonumber(ARGV[1])
local n = #KEYS
local cost = tonumber(ARGV[3*n+2])
if n == 1 and debt == 0 then
  -- The common case, one limit and no debt, without the tables.
  local cap, per, plan = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
  local v = redis.pcall('GET', KEYS[1])
  if v == false or (type(v) == 'string' and string.find(v, plan, 1, true) == 1) then
    local tat = now
    if v then tat = math.max(now, tonumber(string.sub(v, #plan + 1))) end
    if tat - now > (cap - cost) * per then return {now, 0, tat - now} end
    tat = tat + cost * per
    redis.call('SET', KEYS[1], string.format('%s%d', plan, tat), 'PX', math.floor((tat - now) / 1000) + 1001)
    return {now, 1, tat - now}
  end
end
local tats, write = {}, {}
local allowed = 1
for i = 1, n do
  local cap, per, plan = tonumber(ARGV[3*i-1]), tonumber(ARGV[3*i]), ARGV[3*i+1]
  local tat = now
  local v = redis.pcall('GET', KEYS[i])
  if type(v) == 'string' then
    if string.find(v, plan, 1, true) == 1 then
      tat = math.max(now, tonumber(string.sub(v, #plan + 1)))
    else
      local p0, t0 = string.match(v, '^%d+:(%d+) (%d+)$')
      if not t0 then return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' holds no rate-limit bucket') end
      if tonumber(t0) > now then
        tat = now + math.min(math.ceil((tonumber(t0) - now) * per / tonumber(p0)), cap * per)
      end
      write[i] = true
    end
  elseif v then
    -- A hash of tokens (t) counted at ts against capacity c, as
    -- earlier versions kept buckets, is carried over; anything else
    -- is not ours.
    local h = redis.call('HMGET', KEYS[i], 't', 'ts', 'c')
    local t, ts, c = tonumber(h[1]), tonumber(h[2]), tonumber(h[3])
    if not (t and ts and c) then return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' holds no rate-limit bucket') end
    if now > ts then t = math.min(c, t + (now - ts) / per) end
    tat = now + math.min(math.ceil((c - t) * per), cap * per)
    write[i] = true
  end
  if debt > 0 then
    tat = math.min(tat + debt * per, now + cap * per)
    write[i] = true
  end
  if tat - now > (cap - cost) * per then allowed = 0 end
  tats[i] = tat
end
local out = {now, allowed}
for i = 1, n do
  local tat = tats[i]
  if allowed == 1 then tat = tat + cost * tonumber(ARGV[3*i]) end
  if allowed == 1 or write[i] then
    redis.call('SET', KEYS[i], string.format('%s%d', ARGV[3*i+1], tat), 'PX', math.floor((tat - now) / 1000) + 1001)
  end
  out[i+2] = tat - now
end
return out
`
