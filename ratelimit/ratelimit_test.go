package ratelimit_test

import (
	"context"
	stderrors "errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/ratelimit"
)

// request builds a request from 192.0.2.1, optionally with a principal.
func request(p *principal.Principal) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/orders", nil)
	r.RemoteAddr = "192.0.2.1:40000"
	if p != nil {
		r = r.WithContext(principal.NewContext(r.Context(), p))
	}
	return r
}

// serve runs r through the limiter (under the Envelope format) and reports
// whether the application's handler was reached.
func serve(mw func(http.Handler) http.Handler, r *http.Request) (*httptest.ResponseRecorder, bool) {
	reached := false
	h := errors.Use(errors.Envelope)(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
		w.WriteHeader(http.StatusNoContent)
	})))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w, reached
}

func TestMiddleware(t *testing.T) {
	clock := newClock() // 2026-01-02T03:04:05Z
	epoch := clock.Now().Unix()
	alice := principal.New(principal.Fields{Subject: "alice", ClientID: "app-1"})
	bob := principal.New(principal.Fields{Subject: "bob", ClientID: "app-2"})
	gold := principal.New(principal.Fields{Subject: "carol", ClientID: "app-3", Claims: map[string]any{"rate_limit": float64(50)}})
	broken := principal.New(principal.Fields{Subject: "dave", ClientID: "app-4"})

	threePerMinute := []ratelimit.Limit{{Events: 3, Per: time.Minute}}
	tests := []struct {
		name        string
		cfg         ratelimit.Config
		before      []*http.Request // sent first, responses ignored
		req         *http.Request
		wantStatus  int
		wantReached bool
		wantHeaders map[string]string // "" means absent
		wantBody    string            // substring
	}{
		{
			name:        "an allowed request reaches the handler and carries the limit headers",
			cfg:         ratelimit.Config{Limits: threePerMinute},
			req:         request(alice),
			wantStatus:  http.StatusNoContent,
			wantReached: true,
			wantHeaders: map[string]string{
				"X-RateLimit-Limit":     "3",
				"X-RateLimit-Remaining": "2",
				"X-RateLimit-Reset":     strconv.FormatInt(epoch+20, 10),
				"Retry-After":           "",
				"RateLimit-Policy":      "",
				"RateLimit":             "",
			},
		},
		{
			name:        "a request over the limit is refused with 429 rate_limited and Retry-After, and the handler is not reached",
			cfg:         ratelimit.Config{Limits: threePerMinute},
			before:      []*http.Request{request(alice), request(alice), request(alice)},
			req:         request(alice),
			wantStatus:  http.StatusTooManyRequests,
			wantReached: false,
			wantHeaders: map[string]string{
				"X-RateLimit-Limit":     "3",
				"X-RateLimit-Remaining": "0",
				"X-RateLimit-Reset":     strconv.FormatInt(epoch+20, 10), // when a token is back, as Retry-After
				"Retry-After":           "20",
				"Cache-Control":         "no-store",
			},
			wantBody: `"code":"TOO_MANY_REQUESTS"`,
		},
		{
			name:        "principals are counted apart",
			cfg:         ratelimit.Config{Limits: threePerMinute},
			before:      []*http.Request{request(alice), request(alice), request(alice)},
			req:         request(bob),
			wantStatus:  http.StatusNoContent,
			wantReached: true,
			wantHeaders: map[string]string{"X-RateLimit-Remaining": "2"},
		},
		{
			name:        "without a principal the client IP is the key",
			cfg:         ratelimit.Config{Limits: threePerMinute},
			before:      []*http.Request{request(nil), request(nil), request(nil)},
			req:         request(nil),
			wantStatus:  http.StatusTooManyRequests,
			wantReached: false,
			wantHeaders: map[string]string{"Retry-After": "20"},
		},
		{
			name: "requests with no key share one bucket rather than going unlimited",
			cfg: ratelimit.Config{Limits: threePerMinute, Key: func(*http.Request) (string, bool) {
				return "", false
			}},
			before:      []*http.Request{request(alice), request(bob), request(nil)},
			req:         request(gold),
			wantStatus:  http.StatusTooManyRequests,
			wantReached: false,
		},
		{
			name:        "ResetSeconds writes X-RateLimit-Reset as seconds from now",
			cfg:         ratelimit.Config{Limits: threePerMinute, ResetSeconds: true},
			before:      []*http.Request{request(alice)},
			req:         request(alice),
			wantStatus:  http.StatusNoContent,
			wantReached: true,
			wantHeaders: map[string]string{"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "40"},
		},
		{
			name: "IETFHeaders adds the draft-10 RateLimit-Policy and RateLimit fields",
			cfg: ratelimit.Config{IETFHeaders: true, Limits: []ratelimit.Limit{
				{Name: "burst", Events: 10, Per: time.Second},
				{Name: "hourly", Events: 1000, Per: time.Hour},
			}},
			req:         request(alice),
			wantStatus:  http.StatusNoContent,
			wantReached: true,
			wantHeaders: map[string]string{
				"X-RateLimit-Limit":     "10",
				"X-RateLimit-Remaining": "9",
				"X-RateLimit-Reset":     strconv.FormatInt(epoch+1, 10),
				"RateLimit-Policy":      `"burst";q=10;w=1, "hourly";q=1000;w=3600`,
				"RateLimit":             `"burst";r=9;t=1`,
			},
		},
		{
			name: "with several limits the headers report the most restrictive one",
			cfg: ratelimit.Config{IETFHeaders: true, Limits: []ratelimit.Limit{
				{Name: "burst", Events: 10, Per: time.Second},
				{Name: "daily", Events: 2, Per: 24 * time.Hour},
			}},
			before:      []*http.Request{request(alice), request(alice)},
			req:         request(alice),
			wantStatus:  http.StatusTooManyRequests,
			wantReached: false,
			wantHeaders: map[string]string{
				"X-RateLimit-Limit":     "2",
				"X-RateLimit-Remaining": "0",
				"X-RateLimit-Reset":     strconv.FormatInt(epoch+43200, 10),
				"RateLimit":             `"daily";r=0;t=43200`,
				"Retry-After":           "43200",
			},
		},
		{
			name: "a bucket too large for the shared numbers reports the same values",
			cfg: ratelimit.Config{IETFHeaders: true, Limits: []ratelimit.Limit{
				{Events: 10_000, Per: time.Hour},
			}},
			before:      []*http.Request{request(alice), request(alice)},
			req:         request(alice),
			wantStatus:  http.StatusNoContent,
			wantReached: true,
			wantHeaders: map[string]string{
				"X-RateLimit-Limit":     "10000",
				"X-RateLimit-Remaining": "9997",
				"X-RateLimit-Reset":     strconv.FormatInt(epoch+2, 10),
				"RateLimit-Policy":      `"default";q=10000;w=3600`,
				"RateLimit":             `"default";r=9997;t=2`,
			},
		},
		{
			name: "an account's own limit from a claim replaces the default",
			cfg: ratelimit.Config{
				Limits:      threePerMinute,
				LimitFor:    ratelimit.LimitFromClaim("rate_limit", time.Minute),
				IETFHeaders: true,
			},
			req:         request(gold),
			wantStatus:  http.StatusNoContent,
			wantReached: true,
			wantHeaders: map[string]string{
				"X-RateLimit-Limit":     "50",
				"X-RateLimit-Remaining": "49",
				"RateLimit-Policy":      `"rate_limit";q=50;w=60`,
				"RateLimit":             `"rate_limit";r=49;t=2`,
			},
		},
		{
			name: "a principal without the claim gets the default limit",
			cfg: ratelimit.Config{
				Limits:   threePerMinute,
				LimitFor: ratelimit.LimitFromClaim("rate_limit", time.Minute),
			},
			req:         request(alice),
			wantStatus:  http.StatusNoContent,
			wantReached: true,
			wantHeaders: map[string]string{"X-RateLimit-Limit": "3"},
		},
		{
			name: "an invalid limit from LimitFor is refused with 503, not waved through",
			cfg: ratelimit.Config{
				Limits: threePerMinute,
				LimitFor: func(_ *http.Request, p *principal.Principal) []ratelimit.Limit {
					if p == broken {
						return []ratelimit.Limit{{Events: 0, Per: time.Minute}}
					}
					return nil
				},
			},
			req:         request(broken),
			wantStatus:  http.StatusServiceUnavailable,
			wantReached: false,
			wantHeaders: map[string]string{"X-RateLimit-Limit": ""},
			wantBody:    `"code":"SERVICE_UNAVAILABLE"`,
		},
		{
			name: "LimitFor answering nothing with no Limits configured is refused with 503, not unlimited",
			cfg: ratelimit.Config{
				LimitFor: func(*http.Request, *principal.Principal) []ratelimit.Limit { return nil },
			},
			req:         request(alice),
			wantStatus:  http.StatusServiceUnavailable,
			wantReached: false,
			wantHeaders: map[string]string{"X-RateLimit-Limit": ""},
			wantBody:    `"code":"SERVICE_UNAVAILABLE"`,
		},
		{
			name: "a store error is refused with 503 unavailable and Retry-After",
			cfg: ratelimit.Config{Limits: threePerMinute, Store: storeFunc(func(context.Context, string, []ratelimit.Limit) (ratelimit.Decision, error) {
				return ratelimit.Decision{}, stderrors.New("connection refused")
			})},
			req:         request(alice),
			wantStatus:  http.StatusServiceUnavailable,
			wantReached: false,
			wantHeaders: map[string]string{"Retry-After": "1", "X-RateLimit-Limit": ""},
			wantBody:    `"code":"SERVICE_UNAVAILABLE"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Now = clock.Now
			mw := ratelimit.New(tt.cfg)
			for _, r := range tt.before {
				serve(mw, r)
			}
			w, reached := serve(mw, tt.req)
			if w.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", w.Code, tt.wantStatus)
			}
			if reached != tt.wantReached {
				t.Errorf("handler reached = %v, want %v", reached, tt.wantReached)
			}
			for name, want := range tt.wantHeaders {
				if got := w.Header().Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			if body := w.Body.String(); !strings.Contains(body, tt.wantBody) {
				t.Errorf("body = %s, want it to contain %s", body, tt.wantBody)
			}
			if strings.Contains(w.Body.String(), "connection refused") {
				t.Errorf("body leaks the internal cause: %s", w.Body.String())
			}
		})
	}
}

func TestMiddlewareRefusalWaitsForTheClockNotForSleep(t *testing.T) {
	clock := newClock()
	mw := ratelimit.New(ratelimit.Config{Limits: []ratelimit.Limit{{Events: 1, Per: time.Second}}, Now: clock.Now})
	if w, _ := serve(mw, request(nil)); w.Code != http.StatusNoContent {
		t.Fatalf("first request: %d", w.Code)
	}
	w, _ := serve(mw, request(nil))
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("second request: %d, Retry-After %q; want 429 and 1", w.Code, w.Header().Get("Retry-After"))
	}
	clock.Advance(time.Second)
	if w, reached := serve(mw, request(nil)); w.Code != http.StatusNoContent || !reached {
		t.Fatalf("after Retry-After: %d, reached %v; want 204 through the handler", w.Code, reached)
	}
}

func TestAnAllowedRequestAllocatesOnlyItsKey(t *testing.T) {
	r := request(principal.New(principal.Fields{Subject: "u1", ClientID: "app-1"}))
	var sent, reached int
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached++ })
	use := errors.Use(errors.Envelope)
	allocs := func(h http.Handler) float64 {
		w := &discard{h: make(http.Header, 8)}
		serve := func() {
			clear(w.h)
			sent++
			h.ServeHTTP(w, r)
		}
		serve() // the key's bucket is made here
		return testing.AllocsPerRun(1000, serve)
	}
	base := allocs(use(next))

	tests := []struct {
		name string
		cfg  ratelimit.Config
	}{
		{"a limit no request exhausts", ratelimit.Config{Limits: benchLimits}},
		{"a limit no request exhausts, with the IETF headers", ratelimit.Config{Limits: benchLimits, IETFHeaders: true}},
		{"a bucket of 4,096 being drained", ratelimit.Config{Limits: []ratelimit.Limit{{Events: 4096, Per: time.Hour}}}},
		{"a bucket of 4,096 being drained, Reset in seconds", ratelimit.Config{Limits: []ratelimit.Limit{{Events: 4096, Per: time.Hour}}, ResetSeconds: true}},
		{"a burst no request exhausts and a quota of 4,096 being drained", ratelimit.Config{Limits: []ratelimit.Limit{
			{Name: "burst", Events: 1 << 30, Per: time.Second},
			{Name: "quota", Events: 4096, Per: time.Hour},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent, reached = 0, 0
			n := allocs(use(ratelimit.New(tt.cfg)(next)))
			if reached != sent {
				t.Fatalf("handler reached by %d of %d requests, want every one allowed", reached, sent)
			}
			if n-base > 1 {
				t.Errorf("%g allocations per request beyond errors.Use's own %g, want at most 1 (the key, \"client:app-1\")", n-base, base)
			}
		})
	}
}

func TestAHandlerAddingToTheLimitHeadersChangesNoOtherResponse(t *testing.T) {
	mw := ratelimit.New(ratelimit.Config{
		Limits:      []ratelimit.Limit{{Events: 100, Per: time.Minute}},
		IETFHeaders: true,
		Now:         newClock().Now,
	})
	names := []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy", "RateLimit"}
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := principal.From(r.Context())
		for _, name := range names {
			w.Header().Add(name, p.Subject())
		}
	}))
	alice := httptest.NewRecorder()
	h.ServeHTTP(alice, request(principal.New(principal.Fields{Subject: "alice"})))
	want := alice.Header().Clone()
	bob := httptest.NewRecorder()
	h.ServeHTTP(bob, request(principal.New(principal.Fields{Subject: "bob"})))
	for _, name := range names {
		if got := alice.Header().Values(name); len(got) != 2 || got[1] != "alice" || got[0] != want.Values(name)[0] {
			t.Errorf("alice's %s after bob's request = %q, want %q", name, got, want.Values(name))
		}
		if got := bob.Header().Values(name); len(got) != 2 || got[0] != want.Values(name)[0] || got[1] != "bob" {
			t.Errorf("bob's %s = %q, want [%q \"bob\"]", name, got, want.Values(name)[0])
		}
	}
}

func TestNewPanicsOnProgrammerError(t *testing.T) {
	tests := map[string]ratelimit.Config{
		"no limits":            {},
		"zero events":          {Limits: []ratelimit.Limit{{Per: time.Second}}},
		"zero period":          {Limits: []ratelimit.Limit{{Events: 1}}},
		"negative burst":       {Limits: []ratelimit.Limit{{Events: 1, Per: time.Second, Burst: -1}}},
		"quote in limit name":  {Limits: []ratelimit.Limit{{Name: `a"b`, Events: 1, Per: time.Second}}},
		"two limits, one name": {Limits: []ratelimit.Limit{{Name: "a", Events: 1, Per: time.Second}, {Name: "a", Events: 5, Per: time.Hour}}},
	}
	for name, cfg := range tests {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("New did not panic")
				}
			}()
			ratelimit.New(cfg)
		})
	}
}

type storeFunc func(ctx context.Context, key string, limits []ratelimit.Limit) (ratelimit.Decision, error)

func (f storeFunc) Allow(ctx context.Context, key string, limits []ratelimit.Limit) (ratelimit.Decision, error) {
	return f(ctx, key, limits)
}

// On a refusal, draft-ietf-httpapi-ratelimit-headers-10 §4.1.2 and §6 make
// the RateLimit t the time until the next request would be admitted, which
// is what Retry-After says; X-RateLimit-Reset follows the same rule, so a
// client that waits for it is admitted rather than told to wait on until
// its bucket is full.
func TestARefusalsResetAndRateLimitAgreeWithRetryAfter(t *testing.T) {
	alice := principal.New(principal.Fields{Subject: "alice", ClientID: "app-1"})
	tests := []struct {
		name         string
		limits       []ratelimit.Limit
		resetSeconds bool
		spend        int
		// want on the refusal
		retryAfter, reset, rateLimit string
		resetFromNow                 int64 // Unix form: seconds after the clock
	}{
		{
			name:   "one limit, Unix reset: Reset is when a token is back, not when the bucket is full",
			limits: []ratelimit.Limit{{Name: "minute", Events: 3, Per: time.Minute}}, spend: 3,
			retryAfter: "20", resetFromNow: 20, rateLimit: `"minute";r=0;t=20`,
		},
		{
			name:   "one limit, Reset in seconds",
			limits: []ratelimit.Limit{{Name: "minute", Events: 3, Per: time.Minute}}, spend: 3, resetSeconds: true,
			retryAfter: "20", reset: "20", rateLimit: `"minute";r=0;t=20`,
		},
		{
			name: "a quota refusing behind a burst: the quota's wait, not its window",
			limits: []ratelimit.Limit{
				{Name: "burst", Events: 10, Per: time.Second},
				{Name: "daily", Events: 2, Per: 24 * time.Hour},
			}, spend: 2,
			retryAfter: "43200", resetFromNow: 43200, rateLimit: `"daily";r=0;t=43200`,
		},
		{
			name:   "a wait under a second is one second everywhere",
			limits: []ratelimit.Limit{{Name: "fast", Events: 100, Per: time.Second, Burst: 5}}, spend: 5, resetSeconds: true,
			retryAfter: "1", reset: "1", rateLimit: `"fast";r=0;t=1`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			mw := ratelimit.New(ratelimit.Config{Limits: tt.limits, ResetSeconds: tt.resetSeconds, IETFHeaders: true, Now: clock.Now})
			for range tt.spend {
				serve(mw, request(alice))
			}
			w, reached := serve(mw, request(alice))
			if w.Code != http.StatusTooManyRequests || reached {
				t.Fatalf("status %d, reached %v; want 429 and the handler not reached", w.Code, reached)
			}
			want := tt.reset
			if !tt.resetSeconds {
				want = strconv.FormatInt(clock.Now().Unix()+tt.resetFromNow, 10)
			}
			got := [3]string{w.Header().Get("Retry-After"), w.Header().Get("X-RateLimit-Reset"), w.Header().Get("RateLimit")}
			if wantAll := [3]string{tt.retryAfter, want, tt.rateLimit}; got != wantAll {
				t.Errorf("Retry-After, X-RateLimit-Reset, RateLimit = %q, want %q", got, wantAll)
			}
			if !strings.Contains(w.Body.String(), `"code":"TOO_MANY_REQUESTS"`) {
				t.Errorf("body = %s", w.Body)
			}
		})
	}
}
