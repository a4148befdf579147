package introspect

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tgerrors "github.com/tollgate/tollgate/errors"
)

// gatedEndpoint is an introspection endpoint that holds every call until
// released, and counts at the server what a client costs it: the calls in
// flight (and their peak) and the TCP connections opened.
type gatedEndpoint struct {
	*httptest.Server
	inFlight, peak, calls, conns atomic.Int64

	mu   sync.Mutex
	gate chan struct{}
}

func newGatedEndpoint(t *testing.T) *gatedEndpoint {
	t.Helper()
	ep := &gatedEndpoint{gate: make(chan struct{})}
	ep.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The gate is taken before the call counts as in flight, so that
		// a test that saw it in flight and released it has released it.
		ep.mu.Lock()
		gate := ep.gate
		ep.mu.Unlock()
		ep.calls.Add(1)
		n := ep.inFlight.Add(1)
		for {
			p := ep.peak.Load()
			if n <= p || ep.peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-gate
		ep.inFlight.Add(-1)
		answer(activeFor(time.Hour))(w, r)
	}))
	ep.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			ep.conns.Add(1)
		}
	}
	ep.Start()
	t.Cleanup(ep.Close)
	// Registered after Close, so it runs first: a failed test must not
	// leave Close waiting on held calls.
	t.Cleanup(ep.open)
	return ep
}

// release answers the calls held so far; later calls are held again.
func (ep *gatedEndpoint) release() {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	close(ep.gate)
	ep.gate = make(chan struct{})
}

// open answers the calls held so far and every later one at once.
func (ep *gatedEndpoint) open() {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	select {
	case <-ep.gate:
	default:
		close(ep.gate)
	}
}

// waitUntil yields until cond holds.
func waitUntil(cond func() bool) {
	for !cond() {
		runtime.Gosched()
	}
}

func TestDistinctTokensAgainstAHungEndpointMakeAtMostTheCapOfCallsAndTheRestAreUnavailableAtOnce(t *testing.T) {
	const n = 2000
	const limit = DefaultMaxConcurrentCalls
	ep := newGatedEndpoint(t)
	c, err := New(Config{Endpoint: ep.URL, Auth: ClientSecretBasic("orders-api", "s3cret"),
		Now: newClock().Now, Timeout: time.Hour}) // no call times out while the test runs
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()

	var wg sync.WaitGroup
	var returned atomic.Int64
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = c.Verify(context.Background(), fmt.Sprintf("token-%d", i))
			returned.Add(1)
		})
	}
	// Every request has either been answered or waits on a call, and the
	// calls that were started have reached the endpoint.
	waitUntil(func() bool { return returned.Load()+c.waiting.Load() == n })
	waitUntil(func() bool { return ep.inFlight.Load() >= min(c.waiting.Load(), limit) })
	answeredEarly, during := returned.Load(), runtime.NumGoroutine()
	peak, conns := ep.peak.Load(), ep.conns.Load()
	t.Logf("%d distinct tokens against a hung endpoint: %d calls in flight at the server (peak %d), %d connections opened, %d answered before the endpoint was released, goroutines %d → %d",
		n, ep.inFlight.Load(), peak, conns, answeredEarly, before, during)

	if peak > limit {
		t.Errorf("%d calls in flight at the endpoint, want at most %d", peak, limit)
	}
	if conns > limit {
		t.Errorf("%d connections opened, want at most %d", conns, limit)
	}
	if answeredEarly != n-limit {
		t.Errorf("%d requests answered while the endpoint hung, want every one beyond the cap (%d)", answeredEarly, n-limit)
	}
	// Per call in flight: the waiting request, the call, the client's two
	// connection goroutines and the server's one or two; not per token.
	if grew := during - before; grew > 6*limit+20 {
		t.Errorf("goroutines grew by %d while %d calls hung, want at most %d", grew, limit, 6*limit+20)
	}

	ep.open()
	wg.Wait()
	var ok, unavailable int
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case tgerrors.KindOf(err) == tgerrors.Unavailable:
			unavailable++
		default:
			t.Fatalf("request %d: %v, want an answer or unavailable", i, err)
		}
	}
	if ok != limit || unavailable != n-limit {
		t.Errorf("%d admitted and %d unavailable, want %d and %d", ok, unavailable, limit, n-limit)
	}
	if calls := ep.calls.Load(); calls != limit {
		t.Errorf("%d calls reached the endpoint, want %d", calls, limit)
	}
	for i, err := range errs {
		if err != nil {
			wantRefusal(t, err, tgerrors.Unavailable)
			if _, cached := c.refused.Peek(hashToken(fmt.Sprintf("token-%d", i))); cached {
				t.Fatalf("a refusal at the cap was cached")
			}
			break
		}
	}

	// Nothing outlives the calls but idle connections; once they are
	// closed, the goroutines are back where they started.
	c.httpClient.CloseIdleConnections()
	after := runtime.NumGoroutine()
	for i := 0; after > before+5 && i < 500; i++ {
		time.Sleep(10 * time.Millisecond) // goroutines of closed connections exit on their own
		after = runtime.NumGoroutine()
	}
	t.Logf("goroutines after the endpoint was released and idle connections closed: %d", after)
	if after > before+5 {
		t.Errorf("%d goroutines after the calls ended, %d before: a leak", after, before)
	}
}

func TestCoalescedMissesShareOneSlotUnderTheCap(t *testing.T) {
	const waiters = 100
	ep := newGatedEndpoint(t)
	c, err := New(Config{Endpoint: ep.URL, Auth: ClientSecretBasic("orders-api", "s3cret"),
		Now: newClock().Now, MaxConcurrentCalls: 2})
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	errs := make([]error, waiters+1)
	for i := range waiters {
		wg.Go(func() { _, errs[i] = c.Verify(context.Background(), "token-a") })
	}
	wg.Go(func() { _, errs[waiters] = c.Verify(context.Background(), "token-b") })
	waitUntil(func() bool { return c.waiting.Load() == waiters+1 && ep.inFlight.Load() == 2 })

	// Two calls are in flight, however many requests wait on them: a third
	// token is over the cap.
	var third atomic.Value
	done := make(chan struct{})
	go func() {
		_, err := c.Verify(context.Background(), "token-c")
		third.Store(&err)
		close(done)
	}()
	waitUntil(func() bool { return third.Load() != nil || c.waiting.Load() > waiters+1 })
	got := third.Load()
	ep.release()
	<-done
	if got == nil {
		t.Fatalf("a third token waited behind the cap of 2 instead of being refused")
	}
	wantRefusal(t, *got.(*error), tgerrors.Unavailable)

	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d under the cap: %v", i, err)
		}
	}
	if calls := ep.calls.Load(); calls != 2 {
		t.Errorf("%d calls, want 2 (one per token)", calls)
	}
	// The slots are free again.
	ep.open()
	if _, err := c.Verify(context.Background(), "token-c"); err != nil {
		t.Errorf("after the calls ended: %v", err)
	}
}

func TestTheDefaultClientReusesItsConnections(t *testing.T) {
	const limit = DefaultMaxConcurrentCalls
	ep := newGatedEndpoint(t)
	c, err := New(Config{Endpoint: ep.URL, Auth: ClientSecretBasic("orders-api", "s3cret"), Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	// Two waves of as many concurrent calls as the cap allows: the second
	// finds the first's connections idle.
	for wave := range 2 {
		var wg sync.WaitGroup
		for i := range limit {
			wg.Go(func() {
				if _, err := c.Verify(context.Background(), fmt.Sprintf("wave-%d-token-%d", wave, i)); err != nil {
					t.Errorf("wave %d: %v", wave, err)
				}
			})
		}
		waitUntil(func() bool { return ep.inFlight.Load() == limit })
		ep.release()
		wg.Wait()
	}
	t.Logf("2 waves of %d calls: %d connections", limit, ep.conns.Load())
	if conns := ep.conns.Load(); conns > limit {
		t.Errorf("2 waves of %d concurrent calls opened %d connections, want at most %d", limit, conns, limit)
	}
}

func TestNewRefusesANegativeCap(t *testing.T) {
	_, err := New(Config{Endpoint: "https://auth.example.com/i", Auth: ClientSecretBasic("a", ""), MaxConcurrentCalls: -1})
	if err == nil {
		t.Fatal("New accepted MaxConcurrentCalls -1")
	}
}
