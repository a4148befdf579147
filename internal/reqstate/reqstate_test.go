package reqstate

import (
	"context"
	"net/netip"
	"testing"
)

func TestFirstLayerMakesTheNodeLaterLayersFillIt(t *testing.T) {
	ctx, isNew := WithFormat(context.Background(), "envelope")
	if !isNew {
		t.Fatal("no node was made for an empty context")
	}
	addr := netip.MustParseAddr("192.0.2.1")
	if got, isNew := WithClientIP(ctx, addr); isNew || got != ctx {
		t.Error("the client IP did not go into the existing node")
	}
	if got, isNew := WithPrincipal(ctx, "p1"); isNew || got != ctx {
		t.Error("the principal did not go into the existing node")
	}
	s := From(ctx)
	if s.Format != "envelope" || s.Principal != "p1" || s.ClientIP != addr || !s.HasClientIP {
		t.Errorf("state %+v", s)
	}
	if n := testing.AllocsPerRun(100, func() { From(ctx) }); n != 0 {
		t.Errorf("From allocates %v times", n)
	}
}

func TestAWrittenFieldIsNeverChangedUnderTheLayersBelow(t *testing.T) {
	outer, _ := WithPrincipal(context.Background(), "outer")
	inner, isNew := WithPrincipal(outer, "inner")
	if !isNew {
		t.Fatal("a second principal overwrote the first in place")
	}
	if From(outer).Principal != "outer" || From(inner).Principal != "inner" {
		t.Errorf("outer %v inner %v", From(outer).Principal, From(inner).Principal)
	}
	// The copy keeps what was there and can still be filled.
	if _, isNew := WithFormat(inner, "problem"); isNew {
		t.Error("an empty field of the copy was not filled in place")
	}
	if From(outer).Format != nil {
		t.Error("filling the copy changed the original")
	}
}

func TestNoStateWithoutALayer(t *testing.T) {
	if From(context.Background()) != nil {
		t.Error("a bare context has a state")
	}
}
