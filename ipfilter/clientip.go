package ipfilter

import (
	"context"
	"net/http"
	"net/netip"
)

// ipContext carries the client IP the filter resolved. It is its own context
// node, so storing an address costs one allocation and no boxing.
type ipContext struct {
	context.Context
	addr netip.Addr // invalid: resolution failed closed
}

type ipContextKey struct{}

// Value returns the node itself for ipContextKey and defers to the parent
// otherwise.
func (c *ipContext) Value(key any) any {
	if key == (ipContextKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// NewContext returns a copy of ctx carrying addr as the request's client IP.
// An invalid addr records that resolution failed closed: ClientIP then
// reports false rather than falling back to the peer address.
func NewContext(ctx context.Context, addr netip.Addr) context.Context {
	return &ipContext{Context: ctx, addr: addr}
}

// ClientIP returns the request's client IP: the one resolved by a filter
// earlier in the chain (trusted proxies applied), or, when no filter ran, the
// connection's RemoteAddr. It never reads a header itself. It reports false
// when the filter failed closed or RemoteAddr is not an IP.
func ClientIP(r *http.Request) (netip.Addr, bool) {
	if c, ok := r.Context().Value(ipContextKey{}).(*ipContext); ok {
		return c.addr, c.addr.IsValid()
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	a := ap.Addr().Unmap().WithZone("")
	return a, a.IsValid()
}
