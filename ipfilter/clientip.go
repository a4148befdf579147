package ipfilter

import (
	"context"
	"net/http"
	"net/netip"

	"github.com/tollgate/tollgate/internal/reqstate"
)

// NewContext returns a copy of ctx carrying addr as the request's client IP;
// ctx itself is left as it was. An invalid addr records that resolution
// failed closed: ClientIP then reports false rather than falling back to the
// peer address. addr is stored unmapped and without a zone, as New resolves
// it.
func NewContext(ctx context.Context, addr netip.Addr) context.Context {
	return reqstate.WithClientIP(ctx, addr.Unmap().WithZone(""))
}

// resolved returns the client IP an earlier filter stored in ctx, and
// whether one had run.
func resolved(ctx context.Context) (netip.Addr, bool) {
	s := reqstate.From(ctx)
	if s == nil {
		return netip.Addr{}, false
	}
	return s.ClientIP()
}

// ClientIP returns the request's client IP: the one resolved by a filter
// earlier in the chain (trusted proxies applied), or, when no filter ran, the
// connection's RemoteAddr. It never reads a header itself. It reports false
// when the filter failed closed, RemoteAddr is not an IP, or RemoteAddr
// looks rewritten from a forwarding header (a bare address without a port
// on a request that carries X-Forwarded-For or the like: see
// Config.PortlessRemoteAddr). The address is
// unmapped (::ffff:192.0.2.1 is 192.0.2.1) and has no zone, so it can key a
// map. It does not allocate.
func ClientIP(r *http.Request) (netip.Addr, bool) {
	if a, ok := resolved(r.Context()); ok {
		return a, a.IsValid()
	}
	return peer(r, false)
}

// headerKind is how the configured proxy header is read.
type headerKind int

const (
	headerXFF       headerKind = iota // X-Forwarded-For: a list, walked
	headerForwarded                   // RFC 7239 Forwarded: a list of for= nodes, walked
	headerSingle                      // X-Real-IP and the like: one address, the last value
)

// resolver finds a request's client IP. Without trusted proxies it is the
// peer; with them, the peer's word is taken only when the peer is one.
type resolver struct {
	trusted  *prefixSet
	header   string // canonical header name
	kind     headerKind
	portless bool // Config.PortlessRemoteAddr
}

// resolve returns the client IP of r, or the invalid Addr when it cannot be
// known. The peer (RemoteAddr) is the client unless it is a trusted proxy;
// then the configured header names the client, and a missing or malformed
// header fails closed rather than falling back to the proxy's own address,
// which would make every proxied client look like the proxy. Zero
// allocations.
func (rv *resolver) resolve(r *http.Request) netip.Addr {
	p, ok := peer(r, rv.portless)
	if !ok || !rv.trusted.contains(p) {
		return p
	}
	lines := r.Header[rv.header]
	var a netip.Addr
	switch rv.kind {
	case headerForwarded:
		a, ok = walkForwarded(lines, rv.trusted)
	case headerSingle:
		a, ok = lastValue(lines)
	default:
		a, ok = walkXFF(lines, rv.trusted)
	}
	if !ok {
		return netip.Addr{}
	}
	return a
}
