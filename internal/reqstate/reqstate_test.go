package reqstate

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"
)

func TestTheFirstLayerMakesTheNodeAndTheOthersFillIt(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r1 := SetFormat(r, "envelope")
	if r1 == r {
		t.Fatal("no node was made for a bare request")
	}
	addr := netip.MustParseAddr("192.0.2.1")
	if r2 := SetClientIP(r1, addr); r2 != r1 {
		t.Error("the client IP did not go into the request's node")
	}
	if r3 := SetPrincipal(r1, "p1"); r3 != r1 {
		t.Error("the principal did not go into the request's node")
	}
	s := From(r1.Context())
	if ip, ok := s.ClientIP(); s.Format() != "envelope" || s.Principal() != "p1" || ip != addr || !ok {
		t.Errorf("state %v %v %v %v", s.Format(), s.Principal(), ip, ok)
	}
	if n := testing.AllocsPerRun(100, func() { From(r1.Context()) }); n != 0 {
		t.Errorf("From allocates %v times", n)
	}
}

func TestAWrittenFieldIsNeverChangedUnderTheLayersBelow(t *testing.T) {
	outer := SetPrincipal(httptest.NewRequest("GET", "/", nil), "outer")
	inner := SetPrincipal(outer, "inner")
	if inner == outer {
		t.Fatal("a second principal overwrote the first in place")
	}
	if From(outer.Context()).Principal() != "outer" || From(inner.Context()).Principal() != "inner" {
		t.Errorf("outer %v inner %v", From(outer.Context()).Principal(), From(inner.Context()).Principal())
	}
	if got := SetFormat(inner, "problem"); got != inner {
		t.Error("an empty field of the copy was not filled in place")
	}
	if From(outer.Context()).Format() != nil {
		t.Error("filling the copy changed the original")
	}
}

// A sub-request built on another request's context must not write into
// that request's node: its principal would leak to the outer request and to
// every sibling.
func TestASubRequestNeverWritesIntoTheRequestItCameFrom(t *testing.T) {
	outer := SetFormat(httptest.NewRequest("GET", "/batch", nil), "envelope")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sub := httptest.NewRequestWithContext(outer.Context(), "GET", "/item", nil)
			if i%2 == 0 {
				sub = SetPrincipal(sub, "caller")
				if From(sub.Context()).Format() != "envelope" {
					t.Error("the sub-request lost the outer format")
				}
			} else if p := From(sub.Context()).Principal(); p != nil {
				t.Errorf("a sibling's principal %v reached a sub-request without one", p)
			}
		}()
	}
	wg.Wait()
	if p := From(outer.Context()).Principal(); p != nil {
		t.Errorf("a sub-request's principal %v reached the outer request", p)
	}
}

func TestADerivedContextIsNeverWrittenThrough(t *testing.T) {
	r := SetFormat(httptest.NewRequest("GET", "/", nil), "envelope")
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	child := r.WithContext(ctx)
	if got := SetPrincipal(child, "p"); got == child {
		t.Error("a request whose context was derived below the node filled it in place")
	}
	if From(r.Context()).Principal() != nil {
		t.Error("the principal reached the parent context")
	}
}

func TestTheContextFunctionsAlwaysMakeANewNode(t *testing.T) {
	r := SetFormat(httptest.NewRequest("GET", "/", nil), "envelope")
	ctx := WithPrincipal(r.Context(), "p")
	if ctx == r.Context() || From(r.Context()).Principal() != nil {
		t.Error("WithPrincipal wrote into an existing node")
	}
	if From(ctx).Format() != "envelope" || From(ctx).Principal() != "p" {
		t.Errorf("the new node lost a value: %v %v", From(ctx).Format(), From(ctx).Principal())
	}
}

func TestNoStateWithoutALayer(t *testing.T) {
	if From(context.Background()) != nil {
		t.Error("a bare context has a state")
	}
}

// A layer above may start a goroutine that reads the request's context
// (an audit log) while the layers below are still filling the node: it sees
// each field absent or whole, never a torn write, and -race agrees.
func TestAReaderStartedAboveSeesAFieldAbsentOrWhole(t *testing.T) {
	r := SetFormat(httptest.NewRequest("GET", "/", nil), "envelope")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 1000 {
			if p := From(r.Context()).Principal(); p != nil && p != "caller" {
				t.Errorf("read %v", p)
				return
			}
		}
	}()
	if got := SetPrincipal(r, "caller"); got != r {
		t.Error("the owner's field was not filled in place")
	}
	<-done
	if From(r.Context()).Principal() != "caller" {
		t.Error("the principal was not published")
	}
}

func TestTheObserverGoesIntoTheNodeAndIntoCopies(t *testing.T) {
	r := SetFormat(httptest.NewRequest("GET", "/", nil), "envelope")
	if got := SetObserver(r, "obs"); got != r {
		t.Fatal("the observer did not go into the request's node")
	}
	inner := SetPrincipal(SetPrincipal(r, "outer"), "inner")
	if o := From(inner.Context()).Observer(); o != "obs" {
		t.Errorf("a copy of the node has observer %v", o)
	}
	if o := From(WithObserver(context.Background(), "ctx")).Observer(); o != "ctx" {
		t.Errorf("WithObserver gave %v", o)
	}
	if o := From(SetFormat(httptest.NewRequest("GET", "/", nil), "x").Context()).Observer(); o != nil {
		t.Errorf("a node without an observer has %v", o)
	}
}
