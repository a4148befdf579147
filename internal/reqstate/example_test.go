package reqstate_test

import (
	"fmt"
	"net/http/httptest"
	"net/netip"

	"github.com/tollgate/tollgate/internal/reqstate"
)

// The first layer makes the request's node; the layers below fill it in
// place.
func Example() {
	r := httptest.NewRequest("GET", "/orders", nil)
	r1 := reqstate.SetFormat(r, "envelope")
	fmt.Println("first layer made a node:", r1 != r)

	r2 := reqstate.SetClientIP(r1, netip.MustParseAddr("192.0.2.7"))
	fmt.Println("second layer made a node:", r2 != r1)

	s := reqstate.From(r2.Context())
	ip, _ := s.ClientIP()
	fmt.Println(s.Format(), ip)
	// Output:
	// first layer made a node: true
	// second layer made a node: false
	// envelope 192.0.2.7
}
