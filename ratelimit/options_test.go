package ratelimit_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/ratelimit"
)

var twoPerMinute = []ratelimit.Limit{{Events: 2, Per: time.Minute}}

func TestExemptKeysPassUncountedAndWithoutHeaders(t *testing.T) {
	partner := principal.New(principal.Fields{ClientID: "partner-7"})
	other := principal.New(principal.Fields{ClientID: "app-1"})
	mw := ratelimit.New(ratelimit.Config{Limits: twoPerMinute, Exempt: ratelimit.ExemptKeys("client:partner-7")})
	for i := range 5 {
		w, reached := serve(mw, request(partner))
		if !reached || w.Code != http.StatusNoContent || w.Header().Get("X-RateLimit-Limit") != "" {
			t.Fatalf("exempt request %d: status %d reached %v headers %v", i, w.Code, reached, w.Header())
		}
	}
	var codes []int
	for range 3 {
		w, _ := serve(mw, request(other))
		codes = append(codes, w.Code)
	}
	if codes[2] != http.StatusTooManyRequests {
		t.Fatalf("a key that is not exempt: %v", codes)
	}
}

func TestOnLimitedIsCalledForEveryRefusalOnly(t *testing.T) {
	var calls []string
	mw := ratelimit.New(ratelimit.Config{Limits: twoPerMinute, OnLimited: func(r *http.Request, key string, d ratelimit.Decision) {
		if d.Allowed || d.RetryAfter <= 0 {
			t.Errorf("OnLimited with %+v", d)
		}
		calls = append(calls, key)
	}})
	for range 4 {
		serve(mw, request(nil))
	}
	if len(calls) != 2 || calls[0] != "ip:192.0.2.1" {
		t.Fatalf("OnLimited calls %v, want two for ip:192.0.2.1", calls)
	}
}

func TestHeaderNamesCanBeRenamedOrLeftOut(t *testing.T) {
	mw := ratelimit.New(ratelimit.Config{Limits: twoPerMinute, Headers: ratelimit.HeaderNames{Limit: "x-quota-limit", Remaining: "-"}})
	w, _ := serve(mw, request(nil))
	h := w.Header()
	if h.Get("X-Quota-Limit") != "2" || h.Get("X-RateLimit-Limit") != "" || h.Get("X-RateLimit-Remaining") != "" || h.Get("X-RateLimit-Reset") == "" {
		t.Fatalf("headers %v", h)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a header name with a colon was accepted")
		}
	}()
	ratelimit.New(ratelimit.Config{Limits: twoPerMinute, Headers: ratelimit.HeaderNames{Reset: "X-Reset: 1"}})
}

func TestCostChargesEachRequestItsWeight(t *testing.T) {
	cost := func(r *http.Request) int {
		if r.URL.Path == "/bulk" {
			return 4
		}
		return 1
	}
	mw := ratelimit.New(ratelimit.Config{Limits: []ratelimit.Limit{{Events: 5, Per: time.Minute}}, Cost: cost})
	bulk := func() *http.Request { r := request(nil); r.URL.Path = "/bulk"; return r }
	w, reached := serve(mw, bulk())
	if !reached || w.Header().Get("X-RateLimit-Remaining") != "1" {
		t.Fatalf("a bulk request on a full bucket of 5: reached %v, remaining %q", reached, w.Header().Get("X-RateLimit-Remaining"))
	}
	if w, reached = serve(mw, bulk()); reached || w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Fatalf("a second bulk request with 1 token left: status %d reached %v", w.Code, reached)
	}
	if _, reached = serve(mw, request(nil)); !reached {
		t.Fatal("a request of cost 1 with 1 token left was refused")
	}

	huge := ratelimit.New(ratelimit.Config{Limits: []ratelimit.Limit{{Events: 5, Per: time.Minute}}, Cost: func(*http.Request) int { return 6 }})
	if w, reached := serve(huge, request(nil)); reached || w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Fatalf("a request costing more than the capacity: status %d reached %v retry %q", w.Code, reached, w.Header().Get("Retry-After"))
	}
}

type plainStore struct{ ratelimit.Store }

func TestCostNeedsAWeightedStore(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Cost with a store that cannot weigh was accepted")
		}
	}()
	ratelimit.New(ratelimit.Config{Limits: twoPerMinute, Cost: func(*http.Request) int { return 2 },
		Store: plainStore{ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})}})
}
