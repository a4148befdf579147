package reqstate_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/tollgate/tollgate/internal/reqstate"
)

// The first layer makes the node; the layers below fill it in place.
func Example() {
	ctx, isNew := reqstate.WithFormat(context.Background(), "envelope")
	fmt.Println("first layer made a node:", isNew)

	_, isNew = reqstate.WithClientIP(ctx, netip.MustParseAddr("192.0.2.7"))
	fmt.Println("second layer made a node:", isNew)

	s := reqstate.From(ctx)
	fmt.Println(s.Format, s.ClientIP)
	// Output:
	// first layer made a node: true
	// second layer made a node: false
	// envelope 192.0.2.7
}
