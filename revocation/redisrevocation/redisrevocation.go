package redisrevocation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	stderrors "errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/internal/ratelog"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/revocation"
)

// DefaultPrefix is the key prefix when Config.Prefix is empty.
const DefaultPrefix = "tollgate:revoked:"

// DefaultTimeout bounds a check when Config.Timeout is zero. A check on a
// healthy Redis takes one round trip, well under a millisecond on a local
// network; 50 ms leaves room for a busy server without letting an outage
// hold every request for long.
const DefaultTimeout = 50 * time.Millisecond

// restoreTimeout bounds one run of Config.Republish started by a check,
// and the life of its marker key.
const restoreTimeout = 10 * time.Minute

// restoreRetry is how long after a failed restore the next check that finds
// the list lost starts another.
const restoreRetry = time.Second

// Log kinds, one line of each per ratelog interval.
const (
	logUnavailable = "redisrevocation.unavailable"
	logLost        = "redisrevocation.lost"
	logRecovered   = "redisrevocation.recovered"
	logRestore     = "redisrevocation.restore"
	logServer      = "redisrevocation.server"
)

// Config configures a Store. The zero value fails closed and is safe; set
// Republish so that the store can recover by itself when Redis loses its
// data (see the package doc).
type Config struct {
	// Prefix starts every key, to share a Redis with other data. It is
	// also the keys' hash tag ({Prefix}), so that a store's keys share one
	// Redis Cluster slot and a check reads them in one command. It must
	// not contain '{' or '}'. Empty means DefaultPrefix.
	Prefix string

	// Timeout bounds one check, the client's own retries, redirects and
	// connection waits included. A check that takes longer is an outage,
	// answered by the outage policy (FailOpen), so keep it well above the
	// check's worst round trip on a healthy, busy Redis. Zero or negative
	// means DefaultTimeout (50 ms).
	Timeout time.Duration

	// FailOpen admits tokens without a revocation check while Redis cannot
	// answer or has lost its data: a revoked token is let through for as
	// long as the outage lasts. Every such check is logged (rate-limited).
	// Default false: the check fails, and middleware.Authenticate refuses
	// the request with unavailable (503). Fail open only where availability
	// matters more than a revocation taking effect.
	FailOpen bool

	// Leeway keeps every revocation this long past its until, and still
	// records one whose until has passed by less than Leeway, because a
	// JWT verifier admits a token up to its own leeway past exp. It must be
	// at least the verifier's (jwt.Config.Leeway). Zero means
	// revocation.DefaultLeeway (5 minutes); negative means none.
	Leeway time.Duration

	// Republish revokes again, through s, every revocation still in force,
	// from the application's own records (the issuer's sessions, a
	// database). It is called when a check finds that Redis has lost the
	// list (a restart without persistence, an eviction, a flush, a new
	// server), and by Restore; checks fail by the outage policy until it
	// returns nil, then pass again. Its writes are idempotent, so replicas
	// that find the loss at once may all run it. Nil means the store
	// cannot restore the list itself: it stays unavailable until Restore is
	// called, which then accepts the list as Redis holds it.
	Republish func(ctx context.Context, s *Store) error

	// Logger receives the outage, data-loss and recovery lines, at most one
	// of each kind every 10 seconds, with the count of those dropped.
	// Nil means slog.Default().
	Logger *slog.Logger

	// Now is the clock, used to skip revocations that have already ended
	// and to space log lines. Nil means time.Now. Redis's own clock
	// expires the keys.
	Now func() time.Time
}

// Store is a revocation list in Redis, shared by every replica. It is a
// revocation.Checker and safe for concurrent use. Each check is one MGET of
// the list's epoch key and the token's keys, bounded by Config.Timeout; the
// package doc explains the keys, the epoch and the outage policy.
type Store struct {
	client    redis.UniversalClient
	cluster   *redis.ClusterClient // client, if it is one: its slot map is reloaded on errors
	direct    bool                 // the client bounds its I/O by the context's deadline
	tag       string               // "{" + prefix + "}", the start of every key
	epochKey  string
	timeout   time.Duration
	leeway    time.Duration
	failOpen  bool
	republish func(ctx context.Context, s *Store) error
	logger    *slog.Logger
	logs      *ratelog.Limiter
	now       func() time.Time

	// rules is the local copy of the rules hash, loaded at the epoch and
	// version in loaded; see rules.go.
	rules      *revocation.Rules
	rulesKey   string
	versionKey string
	loaded     atomic.Pointer[loadedState]
	reloadMu   sync.Mutex

	state       atomic.Int32 // healthy, unreachable or lost
	restoring   atomic.Bool  // a restore started by a check is running
	nextRestore atomic.Int64 // Unix ns before which no check starts a restore
}

// The states of a Store, for its logs.
const (
	healthy int32 = iota
	unreachable
	lost
)

var _ revocation.Checker = (*Store)(nil)

// New returns a Store on client: a *redis.Client, a *redis.ClusterClient, a
// failover or ring client. It does not contact Redis. It panics if client
// is nil or Prefix contains a brace.
//
// Build the client with ContextTimeoutEnabled: true, so that it bounds its
// reads and writes by the check's deadline. With any other client a check
// runs on a goroutine of its own and is abandoned at Timeout (the request
// still waits no longer), at the cost of that goroutine and of connections
// held until the client's own ReadTimeout.
func New(client redis.UniversalClient, cfg Config) *Store {
	if client == nil {
		panic("redisrevocation.New: nil client")
	}
	if strings.ContainsAny(cfg.Prefix, "{}") {
		panic("redisrevocation.New: Prefix must not contain '{' or '}': it is the keys' hash tag")
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	s := &Store{
		client:    client,
		direct:    honoursContext(client),
		tag:       "{" + prefix + "}",
		timeout:   cfg.Timeout,
		failOpen:  cfg.FailOpen,
		republish: cfg.Republish,
		logger:    cfg.Logger,
		now:       cfg.Now,
	}
	s.cluster, _ = client.(*redis.ClusterClient)
	s.epochKey = s.tag + "epoch"
	s.rulesKey = s.tag + "rules"
	s.versionKey = s.tag + "rules:v"
	s.rules = revocation.NewRules()
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	switch {
	case cfg.Leeway == 0:
		s.leeway = revocation.DefaultLeeway
	case cfg.Leeway > 0:
		s.leeway = cfg.Leeway
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.logs = ratelog.New(0, s.now)
	return s
}

// honoursContext reports whether c bounds its network I/O by a context's
// deadline. go-redis does so only with ContextTimeoutEnabled; otherwise a
// command waits out ReadTimeout, per retry.
func honoursContext(c redis.UniversalClient) bool {
	switch c := c.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

var errEmptyID = stderrors.New("redisrevocation: empty token ID")

// ErrLostDuringRestore is returned by Restore when Redis lost its data again
// while Republish ran, so that some of what it wrote may be gone. The list
// is still treated as lost; the next Restore starts over.
var ErrLostDuringRestore = stderrors.New("redisrevocation: redis lost its data again while the revocations were republished")

// RevokeID revokes every token whose Principal.TokenID is jti, until until
// (the token's exp; zero for ever) plus the Leeway. An until more than the
// Leeway in the past does nothing. The write is bounded by ctx.
func (s *Store) RevokeID(ctx context.Context, jti string, until time.Time) error {
	if jti == "" {
		return errEmptyID
	}
	return s.set(ctx, s.idKey(jti), until)
}

// RevokeToken revokes token itself, until until (the token's exp; zero for
// ever) plus the Leeway. Only its revocation.TokenHash is stored, which for
// a JWT covers the signing input, so that every signature of it is revoked
// too. An until more than the Leeway in the past does nothing. The write is
// bounded by ctx.
func (s *Store) RevokeToken(ctx context.Context, token string, until time.Time) error {
	return s.set(ctx, s.tokenKey(token), until)
}

func (s *Store) set(ctx context.Context, key string, until time.Time) error {
	var err error
	if until.IsZero() {
		err = s.client.Set(ctx, key, "1", 0).Err()
	} else {
		until = until.Add(s.leeway)
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

// Revoked reports whether p.TokenID(), p's "sid" claim or token has been
// revoked, or a rule (RevokeRule) matches p, in one round trip bounded by Config.Timeout (two
// when the rules changed since the last check: the second reloads them). When Redis does not answer in time, fails,
// or no longer holds the list's epoch (it lost its data), the outage policy
// decides: by default Revoked returns an *errors.Error of kind Unavailable
// and the caller must refuse the request; with FailOpen it returns false.
func (s *Store) Revoked(ctx context.Context, token string, p *principal.Principal) (bool, error) {
	var buf [4]string
	keys := append(buf[:0], s.epochKey, s.versionKey, s.tokenKey(token))
	if p != nil && p.TokenID() != "" {
		keys = append(keys, s.idKey(p.TokenID()))
	}
	vals, err := s.mget(ctx, keys)
	if err != nil {
		if s.failOpen && s.rules.Match(p, s.now) {
			return true, nil // the last copy of the rules still says so
		}
		return s.unreachable(ctx, err)
	}
	if len(vals) != len(keys) {
		return s.unreachable(ctx, fmt.Errorf("MGET returned %d values for %d keys", len(vals), len(keys)))
	}
	revoked := false
	for _, v := range vals[2:] {
		revoked = revoked || v != nil
	}
	if vals[0] == nil {
		// Without its epoch the list is not whole, but a revocation that
		// is there still holds.
		return s.lost(ctx, revoked || s.rules.Match(p, s.now))
	}
	epoch, _ := vals[0].(string)
	version, _ := vals[1].(string)
	if version == "" {
		version = "0"
	}
	if err := s.syncRulesBounded(ctx, epoch, version); err != nil {
		// What Redis already said still holds, and so does the last copy
		// of the rules where the outage policy admits the rest.
		if revoked || (s.failOpen && s.rules.Match(p, s.now)) {
			return true, nil
		}
		return s.unreachable(ctx, err)
	}
	if s.state.Load() != healthy {
		s.recovered(ctx)
	}
	return revoked || s.rules.Match(p, s.now), nil
}

// syncRulesBounded runs syncRules under the check's timeout.
func (s *Store) syncRulesBounded(ctx context.Context, epoch, version string) error {
	if s.current(epoch, version) {
		return nil // the common case: no timer, no allocation
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.syncRules(ctx, epoch, version)
}

// mget runs MGET under the check's deadline. A client that honours the
// deadline is called directly; any other runs the command on a goroutine
// that is abandoned at the deadline, so that the request never waits on the
// client's own timeouts.
func (s *Store) mget(ctx context.Context, keys []string) ([]any, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if s.direct {
		return s.client.MGet(ctx, keys...).Result()
	}
	type result struct {
		vals []any
		err  error
	}
	done := make(chan result, 1)
	go func() {
		vals, err := s.client.MGet(ctx, keys...).Result()
		done <- result{vals, err}
	}()
	select {
	case r := <-done:
		return r.vals, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// unreachable applies the outage policy to a check Redis did not answer.
func (s *Store) unreachable(ctx context.Context, cause error) (bool, error) {
	if ctx.Err() != nil {
		// The request went away; that says nothing about Redis.
		return false, tgerrors.Wrap(tgerrors.Unavailable, "The service is temporarily unavailable", cause)
	}
	if s.cluster != nil {
		// A failed-over master is found only in a fresh slot map: go-redis
		// reloads it on MOVED but not when the old master is gone.
		s.cluster.ReloadState(ctx)
	}
	s.state.Store(unreachable)
	msg := "revocation: redis unavailable; failing closed: requests are refused with 503"
	if s.failOpen {
		msg = "revocation: redis unavailable; failing open: tokens are admitted unchecked"
	}
	s.logs.Log(ctx, s.logger, slog.LevelError, logUnavailable, msg,
		slog.String("err", cause.Error()), slog.Duration("timeout", s.timeout))
	return s.policy(cause)
}

// lost applies the outage policy to a check that found the epoch missing,
// unless the token's revocation was found anyway, and starts a restore if
// the store can run one.
func (s *Store) lost(ctx context.Context, revoked bool) (bool, error) {
	s.state.Store(lost)
	policy := "failing closed: requests are refused with 503"
	if s.failOpen {
		policy = "failing open: tokens are admitted unchecked"
	}
	how := "call Store.Restore once the revocations are republished (no Config.Republish)"
	if s.republish != nil {
		how = "republishing"
		s.startRestore()
	}
	s.logs.Log(ctx, s.logger, slog.LevelError, logLost,
		"revocation: redis has lost the revocation list (its epoch key is missing: a restart without persistence, an eviction, a flush or a new server); "+policy+" until it is restored",
		slog.String("restore", how))
	if revoked {
		return true, nil
	}
	return s.policy(errLost)
}

var errLost = stderrors.New("redisrevocation: redis has lost the revocation list (epoch key missing)")

func (s *Store) policy(cause error) (bool, error) {
	if s.failOpen {
		return false, nil
	}
	return false, tgerrors.Wrap(tgerrors.Unavailable, "The service is temporarily unavailable",
		fmt.Errorf("redisrevocation: checking: %w", cause))
}

func (s *Store) recovered(ctx context.Context) {
	switch s.state.Swap(healthy) {
	case unreachable:
		s.logs.Log(ctx, s.logger, slog.LevelInfo, logRecovered, "revocation: redis answers again; revocations are checked")
	case lost:
		s.logs.Log(ctx, s.logger, slog.LevelInfo, logRecovered, "revocation: the revocation list is restored; revocations are checked")
	}
}

// startRestore runs Restore in the background, one at a time per Store and
// not sooner than restoreRetry after one failed.
func (s *Store) startRestore() {
	if s.now().UnixNano() < s.nextRestore.Load() || !s.restoring.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer s.restoring.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), restoreTimeout)
		defer cancel()
		if err := s.Restore(ctx); err != nil {
			s.nextRestore.Store(s.now().Add(restoreRetry).UnixNano())
			s.logs.Log(ctx, s.logger, slog.LevelError, logRestore,
				"revocation: republishing the revocation list failed; retrying", slog.String("err", err.Error()))
		}
	}()
}

// Restore brings back a revocation list Redis has lost. If Redis still
// holds the list's epoch, it does nothing. Otherwise it runs
// Config.Republish and then writes a new epoch, from which on checks pass
// again. If Redis loses its data again while Republish runs, the epoch is
// not written and Restore returns ErrLostDuringRestore.
//
// Republish runs under ctx and must finish within 10 minutes, after which
// the restore's marker key expires and the restore counts as lost. Checks
// start Restore by themselves when Republish is set. Without Republish,
// call it once the revocations are back in Redis by other means, or to
// start a new, empty list: on a new Redis, the first check finds no epoch
// and, not knowing whether the list was lost or never written, fails until
// Restore says which.
func (s *Store) Restore(ctx context.Context) error {
	n, err := s.client.Exists(ctx, s.epochKey).Result()
	if err != nil {
		return fmt.Errorf("redisrevocation: restoring: %w", err)
	}
	if n == 1 {
		return nil
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	// The marker lives in the list's slot: if Redis loses its data while
	// Republish runs, the marker goes with it and the commit sees that.
	marker := s.tag + "restoring:" + id
	if err := s.client.Set(ctx, marker, "1", restoreTimeout+time.Minute).Err(); err != nil {
		return fmt.Errorf("redisrevocation: restoring: %w", err)
	}
	if s.republish != nil {
		if err := s.republish(ctx, s); err != nil {
			s.client.Del(context.WithoutCancel(ctx), marker)
			return fmt.Errorf("redisrevocation: republishing: %w", err)
		}
	}
	ok, err := commitRestore.Run(ctx, s.client, []string{marker, s.epochKey}, id).Int()
	if err != nil {
		return fmt.Errorf("redisrevocation: restoring: %w", err)
	}
	if ok != 1 {
		return ErrLostDuringRestore
	}
	// A server that lost the list once may lose it again: say why, if its
	// settings tell.
	if err := s.CheckServer(ctx); err != nil {
		s.logs.Log(ctx, s.logger, slog.LevelWarn, logServer, "revocation: "+err.Error())
	}
	return nil
}

// commitRestore writes the epoch if the restore's marker (KEYS[1]) is still
// there, and drops the marker. It returns 1 if it wrote the epoch (KEYS[2]).
var commitRestore = redis.NewScript(`
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[2], ARGV[1])
return 1
`)

// CheckServer reads every server's INFO and returns an error naming each
// setting under which Redis loses revocations: appendonly off (a restart
// loses every revocation, or brings back an older RDB snapshot, epoch
// included, without the later ones), and a maxmemory-policy other than
// noeviction (an evicted revocation is a lost one, and the epoch need not go
// with it). It returns nil on a server fit to hold the list. On a Cluster
// it asks every master and replica. Restore logs its answer at Warn after
// it writes an epoch; call it at start-up to refuse to run on such a
// server.
func (s *Store) CheckServer(ctx context.Context) error {
	var mu sync.Mutex // ForEachShard calls check concurrently
	var problems []string
	check := func(ctx context.Context, c *redis.Client) error {
		info, err := c.Info(ctx, "persistence", "memory").Result()
		if err != nil {
			return err
		}
		addr := c.Options().Addr
		fields := parseInfo(info)
		mu.Lock()
		defer mu.Unlock()
		if fields["aof_enabled"] != "1" {
			problems = append(problems, addr+": appendonly is off (set appendonly yes, appendfsync everysec or always)")
		}
		if p := fields["maxmemory_policy"]; p != "noeviction" {
			problems = append(problems, addr+": maxmemory-policy is "+p+" (set noeviction)")
		}
		return nil
	}
	var err error
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachShard(ctx, check)
	case *redis.Ring:
		err = c.ForEachShard(ctx, check)
	case *redis.Client:
		err = check(ctx, c)
	default:
		return fmt.Errorf("redisrevocation: CheckServer: cannot reach the servers behind a %T", s.client)
	}
	if err != nil {
		return fmt.Errorf("redisrevocation: CheckServer: %w", err)
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return fmt.Errorf("redisrevocation: redis may lose revocations: %s", strings.Join(problems, "; "))
	}
	return nil
}

// parseInfo splits INFO's "name:value" lines.
func parseInfo(info string) map[string]string {
	out := map[string]string{}
	for line := range strings.Lines(info) {
		line = strings.TrimRight(line, "\r\n")
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(k, "#") {
			out[k] = v
		}
	}
	return out
}

func (s *Store) idKey(jti string) string { return s.tag + "jti:" + jti }

func (s *Store) tokenKey(token string) string { return s.tag + "tok:" + revocation.TokenHash(token) }
