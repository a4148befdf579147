package redisrevocation

import (
	"bytes"
	"context"
	stderrors "errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/internal/redistest"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/revocation"
)

// overBound is what a check may take beyond its Timeout, net of the test
// machine's stalls (see stallMeter): the Go scheduler's delay in returning
// at the deadline, a few ms under -race. Before the bound, a check waited
// for the whole outage: seconds.
const overBound = 50 * time.Millisecond

// roomyTimeout is the Timeout of the tests whose subject is not the bound:
// a check on a loaded test machine can take longer than DefaultTimeout,
// and those tests assert answers, not failures.
const roomyTimeout = 2 * time.Second

// untilRecovered is how long a test waits for a store to answer again
// before it fails. Recovery is expected within milliseconds (a resumed
// server, a republished list) or seconds (a Cluster failover).
const untilRecovered = 15 * time.Second

// republisher is an application's own record of its revocations, handed to
// Config.Republish.
type republisher struct {
	mu    sync.Mutex
	ids   map[string]time.Time
	calls atomic.Int64
}

func newRepublisher() *republisher { return &republisher{ids: map[string]time.Time{}} }

func (r *republisher) revoke(ctx context.Context, s *Store, jti string, until time.Time) error {
	r.mu.Lock()
	r.ids[jti] = until
	r.mu.Unlock()
	return s.RevokeID(ctx, jti, until)
}

func (r *republisher) republish(ctx context.Context, s *Store) error {
	r.calls.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	for jti, until := range r.ids {
		if err := s.RevokeID(ctx, jti, until); err != nil {
			return err
		}
	}
	return nil
}

// stallMeter measures how long this test process goes unscheduled. The
// shared test machine stalls whole processes for up to a second at times
// (an idle program sleeping 1 ms measures it); no code can bound a request
// across that, so a check's own time is its time net of the stalls. A
// goroutine sleeps 1 ms at a time and adds up every wake-up later than
// stallFloor.
type stallMeter struct {
	done    chan struct{}
	mu      sync.Mutex
	last    time.Time
	stalled time.Duration
}

// stallFloor is the lateness of a 1 ms sleep counted as a stall; a busy
// but healthy machine wakes sleepers within it.
const stallFloor = 5 * time.Millisecond

func newStallMeter(t *testing.T) *stallMeter {
	m := &stallMeter{done: make(chan struct{}), last: time.Now()}
	go func() {
		for {
			select {
			case <-m.done:
				return
			default:
			}
			time.Sleep(time.Millisecond)
			now := time.Now()
			m.mu.Lock()
			if late := now.Sub(m.last) - time.Millisecond; late > stallFloor {
				m.stalled += late
			}
			m.last = now
			m.mu.Unlock()
		}
	}()
	t.Cleanup(func() { close(m.done) })
	return m
}

// check runs one check and returns how long it took and how much of that
// the process spent stalled.
func (m *stallMeter) check(s *Store, token string, p *principal.Principal) (revoked bool, took, stalled time.Duration, err error) {
	m.mu.Lock()
	m.stalled, m.last = 0, time.Now()
	m.mu.Unlock()
	start := time.Now()
	revoked, err = s.Revoked(context.Background(), token, p)
	took = time.Since(start)
	m.mu.Lock()
	stalled = m.stalled
	if late := time.Since(m.last) - time.Millisecond; late > stallFloor {
		stalled += late
	}
	m.mu.Unlock()
	return revoked, took, min(took, stalled), err
}

// checkTimes keeps the longest check and the longest net of stalls.
type checkTimes struct{ longest, longestNet time.Duration }

func (c *checkTimes) add(took, stalled time.Duration) {
	c.longest = max(c.longest, took)
	c.longestNet = max(c.longestNet, took-stalled)
}

func (c checkTimes) String() string {
	return fmt.Sprintf("longest check %v (%v net of machine stalls)", c.longest.Round(100*time.Microsecond), c.longestNet.Round(100*time.Microsecond))
}

// waitRecovered checks every few milliseconds until the revoked token
// (jwt, whose jti-1 every test here revokes) is refused again without an
// error: the store answers from a whole list once more, whatever its
// outage policy. It returns how long that took after start.
func waitRecovered(t *testing.T, s *Store, start time.Time) time.Duration {
	t.Helper()
	for i := 0; ; i++ {
		// A revocation republished before the epoch is answered while
		// the list is still lost; recovered is the epoch back too.
		if revoked, err := s.Revoked(context.Background(), jwt, jwtPrincipal); err == nil && revoked && s.state.Load() == healthy {
			return time.Since(start)
		}
		if time.Since(start) > untilRecovered {
			t.Fatalf("the store did not recover within %v (%d checks)", untilRecovered, i)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// answer checks until the store answers without an error (a check on a
// loaded machine may overrun DefaultTimeout) and returns the answer.
func answer(t *testing.T, s *Store, token string, p *principal.Principal) bool {
	t.Helper()
	start := time.Now()
	for {
		revoked, err := s.Revoked(context.Background(), token, p)
		if err == nil {
			return revoked
		}
		if time.Since(start) > untilRecovered {
			t.Fatalf("no answer within %v: %v", untilRecovered, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func isUnavailable(err error) bool {
	var e *tgerrors.Error
	return stderrors.As(err, &e) && e.Kind == tgerrors.Unavailable && e.HTTPStatus() == 503
}

// A check is bounded by Config.Timeout whatever Redis does: paused
// (SIGSTOP), behind a network that answers nothing, or killed; and whatever
// the client's own timeouts and retries. The outage policy answers then:
// unavailable by default, admitted with FailOpen. Run with -v for the
// figures.
func TestACheckIsBoundedByItsTimeoutWhateverTheOutage(t *testing.T) {
	type fault struct {
		name        string
		start, stop func(srv *redistest.Server, proxy *redistest.Proxy)
		recovery    string
	}
	faults := []fault{
		{"paused server", func(srv *redistest.Server, _ *redistest.Proxy) { srv.Pause() },
			func(srv *redistest.Server, _ *redistest.Proxy) { srv.Resume() }, "after SIGCONT"},
		{"black-holed network", func(_ *redistest.Server, p *redistest.Proxy) { p.BlackHole(true) },
			func(_ *redistest.Server, p *redistest.Proxy) { p.BlackHole(false) }, "after the network is back"},
		// A killed redis-server comes back empty: the list is lost and
		// recovery includes Republish.
		{"killed server", func(srv *redistest.Server, _ *redistest.Proxy) { srv.Kill() },
			func(srv *redistest.Server, _ *redistest.Proxy) { srv.StartAgain() }, "after the restarted server answered, republished"},
	}
	clients := []struct {
		name string
		opt  redis.Options
	}{
		{"client with ContextTimeoutEnabled", redis.Options{ContextTimeoutEnabled: true}},
		{"client with go-redis defaults", redis.Options{}},
	}
	for _, f := range faults {
		for _, c := range clients {
			for _, failOpen := range []bool{false, true} {
				policy := "fail closed"
				if failOpen {
					policy = "fail open"
				}
				t.Run(f.name+"/"+c.name+"/"+policy, func(t *testing.T) {
					srv := redistest.Start(t)
					proxy := redistest.NewProxy(t, srv.Addr())
					opt := c.opt
					opt.Addr = proxy.Addr()
					client := redis.NewClient(&opt)
					t.Cleanup(func() { client.Close() })
					rec := newRepublisher()
					s := New(client, Config{FailOpen: failOpen, Republish: rec.republish, Logger: discard})
					ctx := context.Background()
					if err := s.Restore(ctx); err != nil {
						t.Fatal(err)
					}
					if err := rec.revoke(ctx, s, "jti-1", time.Now().Add(time.Hour)); err != nil {
						t.Fatal(err)
					}
					if !answer(t, s, jwt, jwtPrincipal) {
						t.Fatal("before the fault: the revoked token is not revoked")
					}

					meter := newStallMeter(t)
					f.start(srv, proxy)
					// Up to three rounds of six checks: a round the stall
					// meter did not fully account for is run again; an
					// unbounded check fails every round.
					var times checkTimes
					for round := range 3 {
						times = checkTimes{}
						for i := range 6 {
							revoked, took, stalled, err := meter.check(s, jwt, jwtPrincipal)
							times.add(took, stalled)
							if took-stalled > time.Second {
								t.Fatalf("check %d waited %v: the check is not bounded", i, took-stalled)
							}
							if failOpen {
								if err != nil || revoked {
									t.Errorf("check %d failing open: Revoked = %v, %v; want false, nil", i, revoked, err)
								}
							} else if revoked || !isUnavailable(err) {
								t.Errorf("check %d failing closed: Revoked = %v, %v; want an unavailable error", i, revoked, err)
							}
						}
						if times.longestNet <= DefaultTimeout+overBound {
							break
						}
						t.Logf("round %d: %v, over the bound", round+1, times)
					}
					if times.longestNet > DefaultTimeout+overBound {
						t.Errorf("%v in each of 3 rounds, want at most the %v timeout (+%v)", times, DefaultTimeout, overBound)
					}

					f.stop(srv, proxy)
					took := waitRecovered(t, s, time.Now())
					if answer(t, s, opaque, opaquePrincipal) {
						t.Error("after recovery another token is revoked")
					}
					t.Logf("%s, %s, %s: %v, timeout %v; recovered %v %s",
						f.name, c.name, policy, times, DefaultTimeout,
						took.Round(100*time.Microsecond), f.recovery)
				})
			}
		}
	}
}

// A Redis that comes back empty has lost the list: it is an outage, not a
// list with nothing revoked, until the application republishes.
func TestALostListIsAnOutageUntilRepublished(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client()
	rec := newRepublisher()
	s := New(client, Config{Republish: rec.republish, Logger: discard, Timeout: roomyTimeout})
	ctx := context.Background()
	if err := s.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rec.revoke(ctx, s, "jti-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	before := rec.calls.Load()
	srv.Restart() // no persistence: every key is gone

	// The first check after the restart finds the epoch missing: not
	// admitted, unavailable; it starts the republish in the background.
	start := time.Now()
	if revoked, err := s.Revoked(ctx, jwt, jwtPrincipal); revoked || !isUnavailable(err) {
		t.Fatalf("revoked token after the restart: Revoked = %v, %v; want an unavailable error", revoked, err)
	}
	took := waitRecovered(t, s, start)
	if revoked, err := s.Revoked(ctx, jwt, jwtPrincipal); err != nil || !revoked {
		t.Errorf("revoked token after republish: Revoked = %v, %v; want true", revoked, err)
	}
	if revoked, err := s.Revoked(ctx, opaque, opaquePrincipal); err != nil || revoked {
		t.Errorf("another token after republish: Revoked = %v, %v; want false", revoked, err)
	}
	if n := rec.calls.Load() - before; n != 1 {
		t.Errorf("Republish ran %d times after the restart, want 1", n)
	}
	t.Logf("after a restart without persistence: recovered (republished) %v after the first check", took.Round(100*time.Microsecond))
}

// A list lost without Republish stays an outage: the store cannot tell a
// lost list from a new one, so it waits for Restore.
func TestWithoutRepublishALostListWaitsForRestore(t *testing.T) {
	srv := redistest.Start(t)
	s := New(srv.Client(), Config{Logger: discard, Timeout: roomyTimeout})
	ctx := context.Background()
	if revoked, err := s.Revoked(ctx, jwt, jwtPrincipal); revoked || !isUnavailable(err) {
		t.Fatalf("a new Redis before Restore: Revoked = %v, %v; want an unavailable error", revoked, err)
	}
	if err := s.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeID(ctx, "jti-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	srv.Restart()
	for range 3 {
		if revoked, err := s.Revoked(ctx, jwt, jwtPrincipal); revoked || !isUnavailable(err) {
			t.Fatalf("after a restart: Revoked = %v, %v; want an unavailable error", revoked, err)
		}
	}
	// The application puts its revocations back by its own means, then
	// says so.
	if err := s.RevokeID(ctx, "jti-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	if revoked, err := s.Revoked(ctx, jwt, jwtPrincipal); err != nil || !revoked {
		t.Errorf("after Restore: Revoked = %v, %v; want true", revoked, err)
	}
}

// On a new Redis with Republish set, the first check publishes the list and
// checks pass from then on.
func TestANewRedisIsPublishedByTheFirstCheck(t *testing.T) {
	srv := redistest.Start(t)
	rec := newRepublisher()
	rec.ids["jti-1"] = time.Now().Add(time.Hour) // revoked before this Redis existed
	s := New(srv.Client(), Config{Republish: rec.republish, Logger: discard, Timeout: roomyTimeout})
	start := time.Now()
	if _, err := s.Revoked(context.Background(), jwt, jwtPrincipal); !isUnavailable(err) {
		t.Fatalf("first check: %v, want unavailable until published", err)
	}
	waitRecovered(t, s, start)
	if revoked, err := s.Revoked(context.Background(), jwt, jwtPrincipal); err != nil || !revoked {
		t.Errorf("Revoked = %v, %v; want true", revoked, err)
	}
}

// An epoch evicted or flushed is the list lost, whatever other keys remain;
// a revocation that remains still refuses its token.
func TestAMissingEpochIsAnOutageWhateverElseRemains(t *testing.T) {
	tests := []struct {
		name string
		lose func(c *redis.Client, s *Store) error
		// revocationLeft: the revocation of jti-2 survived the loss.
		revocationLeft bool
	}{
		{"epoch deleted (evicted)", func(c *redis.Client, s *Store) error { return c.Del(context.Background(), s.epochKey).Err() }, true},
		{"FLUSHALL", func(c *redis.Client, s *Store) error { return c.FlushAll(context.Background()).Err() }, false},
	}
	for _, tt := range tests {
		for _, failOpen := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/FailOpen=%v", tt.name, failOpen), func(t *testing.T) {
				srv := redistest.Start(t)
				client := srv.Client()
				s := New(client, Config{FailOpen: failOpen, Logger: discard, Timeout: roomyTimeout})
				ctx := context.Background()
				if err := s.Restore(ctx); err != nil {
					t.Fatal(err)
				}
				if err := s.RevokeID(ctx, "jti-2", time.Now().Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
				if err := tt.lose(client, s); err != nil {
					t.Fatal(err)
				}
				revoked, err := s.Revoked(ctx, jwt, jwtPrincipal)
				switch {
				case failOpen && (revoked || err != nil):
					t.Errorf("a token not revoked, failing open: Revoked = %v, %v; want false, nil", revoked, err)
				case !failOpen && (revoked || !isUnavailable(err)):
					t.Errorf("a token not revoked, failing closed: Revoked = %v, %v; want an unavailable error", revoked, err)
				}
				revoked, err = s.Revoked(ctx, jwt, principal.New(principal.Fields{TokenID: "jti-2"}))
				switch {
				case tt.revocationLeft && (!revoked || err != nil):
					t.Errorf("the revoked token whose key is left: Revoked = %v, %v; want true, nil", revoked, err)
				case !tt.revocationLeft && revoked:
					t.Errorf("the revoked token whose key is gone: Revoked = true; the key is not there")
				case !tt.revocationLeft && !failOpen && !isUnavailable(err):
					t.Errorf("the revoked token whose key is gone, failing closed: %v, want an unavailable error", err)
				}
			})
		}
	}
}

// If Redis loses its data again while Republish runs, part of what it wrote
// is gone: Restore must not declare the list whole.
func TestALossDuringRepublishIsNoRestore(t *testing.T) {
	srv := redistest.Start(t)
	var calls atomic.Int64
	s := New(srv.Client(), Config{Logger: discard, Timeout: roomyTimeout, Republish: func(ctx context.Context, st *Store) error {
		if err := st.RevokeID(ctx, "jti-1", time.Now().Add(time.Hour)); err != nil {
			return err
		}
		if calls.Add(1) == 1 {
			srv.Restart() // the first run loses what it wrote so far
		}
		return st.RevokeID(ctx, "jti-2", time.Now().Add(time.Hour))
	}})
	ctx := context.Background()
	if err := s.Restore(ctx); !stderrors.Is(err, ErrLostDuringRestore) {
		t.Fatalf("Restore = %v, want ErrLostDuringRestore", err)
	}
	// Still lost: the check fails and starts the next restore itself.
	start := time.Now()
	if revoked, err := s.Revoked(ctx, jwt, jwtPrincipal); revoked || !isUnavailable(err) {
		t.Errorf("after the failed restore: Revoked = %v, %v; want an unavailable error", revoked, err)
	}
	waitRecovered(t, s, start)
	if revoked, err := s.Revoked(ctx, jwt, principal.New(principal.Fields{TokenID: "jti-2"})); err != nil || !revoked {
		t.Errorf("jti-2 after the restore: Revoked = %v, %v; want true", revoked, err)
	}
}

// A Republish that fails leaves the list lost; the next check after a
// second tries again.
func TestAFailedRepublishIsRetried(t *testing.T) {
	srv := redistest.Start(t)
	clock := authtest.NewClock(time.Now())
	var calls atomic.Int64
	s := New(srv.Client(), Config{Logger: discard, Timeout: roomyTimeout, Now: clock.Now, Republish: func(ctx context.Context, st *Store) error {
		if calls.Add(1) == 1 {
			return stderrors.New("the database is down too")
		}
		return st.RevokeID(ctx, "jti-1", time.Now().Add(time.Hour))
	}})
	ctx := context.Background()
	start := time.Now()
	if _, err := s.Revoked(ctx, jwt, jwtPrincipal); !isUnavailable(err) {
		t.Fatalf("first check: %v, want unavailable", err)
	}
	for calls.Load() < 1 || s.restoring.Load() {
		if time.Since(start) > untilRecovered {
			t.Fatal("the first republish never finished")
		}
		time.Sleep(time.Millisecond)
	}
	for range 5 {
		if _, err := s.Revoked(ctx, jwt, jwtPrincipal); !isUnavailable(err) {
			t.Fatalf("before the retry interval: %v, want unavailable", err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("Republish ran %d times before the retry interval, want 1", n)
	}
	clock.Advance(restoreRetry)
	waitRecovered(t, s, start)
	if n := calls.Load(); n != 2 {
		t.Errorf("Republish ran %d times, want 2", n)
	}
}

// Every failing check is logged through ratelog: one line per kind per
// interval, the next one with the count dropped, and one line at recovery.
func TestOutageLogsDoNotFlood(t *testing.T) {
	srv := redistest.Start(t)
	clock := authtest.NewClock(time.Now())
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	s := New(srv.Client(), Config{Logger: logger, Now: clock.Now})
	ctx := context.Background()
	if err := s.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeID(ctx, "jti-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	for range 20 {
		if _, err := s.Revoked(ctx, jwt, jwtPrincipal); !isUnavailable(err) {
			t.Fatalf("paused: %v, want unavailable", err)
		}
	}
	if n := strings.Count(buf.String(), "redis unavailable"); n != 1 {
		t.Errorf("%d outage lines for 20 failed checks, want 1:\n%s", n, buf.String())
	}
	clock.Advance(10 * time.Second)
	if _, err := s.Revoked(ctx, jwt, jwtPrincipal); !isUnavailable(err) {
		t.Fatalf("paused: %v, want unavailable", err)
	}
	if !strings.Contains(buf.String(), "dropped=19") {
		t.Errorf("the line after the interval does not count the 19 dropped:\n%s", buf.String())
	}
	srv.Resume()
	waitRecovered(t, s, time.Now())
	if n := strings.Count(buf.String(), "redis answers again"); n != 1 {
		t.Errorf("%d recovery lines, want 1:\n%s", n, buf.String())
	}
	for _, secret := range []string{jwt, "jti-1", revocation.TokenHash(jwt)} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}

// CheckServer names each setting under which Redis can lose revocations.
func TestCheckServerNamesTheSettingsThatLoseRevocations(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // substrings of the error; none: no error
	}{
		{"no persistence", nil, []string{"appendonly is off"}},
		{"AOF, eviction", []string{"--appendonly", "yes", "--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru"}, []string{"maxmemory-policy is allkeys-lru"}},
		{"AOF, volatile eviction", []string{"--appendonly", "yes", "--maxmemory-policy", "volatile-ttl"}, []string{"maxmemory-policy is volatile-ttl"}},
		{"AOF, noeviction", []string{"--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := redistest.Start(t, tt.args...)
			err := New(srv.Client(), Config{}).CheckServer(context.Background())
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("CheckServer = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckServer = nil, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("CheckServer = %v, want it to say %q", err, w)
				}
			}
			if strings.Contains(tt.name, "AOF") && strings.Contains(err.Error(), "appendonly") {
				t.Errorf("CheckServer = %v: complains of appendonly, which is on", err)
			}
		})
	}
}

// Restore, having written an epoch, warns of the settings under which
// Redis would lose the list again.
func TestRestoreWarnsOfAServerThatCanLoseTheList(t *testing.T) {
	for _, tt := range []struct {
		args []string
		warn bool
	}{{nil, true}, {[]string{"--appendonly", "yes"}, false}} {
		srv := redistest.Start(t, tt.args...)
		var buf syncBuffer
		s := New(srv.Client(), Config{Logger: slog.New(slog.NewTextHandler(&buf, nil)), Timeout: roomyTimeout})
		if err := s.Restore(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(buf.String(), "level=WARN") && strings.Contains(buf.String(), "appendonly is off"); got != tt.warn {
			t.Errorf("redis-server %v: warned %v, want %v:\n%s", tt.args, got, tt.warn, buf.String())
		}
	}
}

var discard = slog.New(slog.DiscardHandler)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
