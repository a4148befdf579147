// Package reqstate carries what tollgate's layers hand down one request: the
// error format, the observer, the client IP and the principal, in one
// context node.
//
// Each layer storing its own context value would cost two allocations (the
// node and the request copy r.WithContext makes) per layer. Instead the
// first layer of a chain makes one node for its request, and the layers
// below fill its empty fields in place.
//
// A node is filled in place only by a layer handed the very request it was
// made for (its owner), and only in a field still empty. Anything else gets
// a fresh node holding a copy, exactly as context.WithValue would:
//
//   - a request built from another's context (a fan-out handler's
//     sub-request, http.NewRequestWithContext(r.Context(), …)) is not the
//     owner, so what its chain finds never reaches its siblings or the
//     request it came from;
//   - a context derived below the node (context.WithTimeout, a router's
//     own value) is not the node, so it is never written through;
//   - a field already set (a nested errors.Use with another format, a second
//     Authenticate) is never overwritten: the layers below see the new value
//     and the layers above keep theirs.
//
// A layer above may see a field of its own request appear after its next
// handler returns (a logging middleware above Authenticate then sees the
// principal); nothing below ever sees a value change. A field is published
// atomically once written, so a goroutine started by a layer above that reads
// the request's context while the layers below fill it sees the field absent
// or whole.
package reqstate

import (
	"context"
	"net/http"
	"net/netip"
	"sync/atomic"
)

// State is one request's values. Read them with its methods; write them only
// through this package's functions.
type State struct {
	format    any        // the errors.Format chosen by errors.Use
	principal any        // the *principal.Principal Authenticate admitted
	clientIP  netip.Addr // invalid: resolution failed closed
	observer  any        // the *observe.Observer errors.Use was given

	// A writer claims a field (CAS on claimed), writes it, then publishes it
	// (published); readers look only at published fields. So a goroutine
	// that reads while a layer below is still filling the node sees the
	// field either absent or whole, never half written, and the race
	// detector agrees.
	claimed, published atomic.Uint32
}

const (
	fieldFormat uint32 = 1 << iota
	fieldPrincipal
	fieldClientIP
	fieldObserver
)

// Format returns the errors.Format chosen for the request, or nil.
func (s *State) Format() any {
	if s.published.Load()&fieldFormat == 0 {
		return nil
	}
	return s.format
}

// Principal returns the *principal.Principal admitted for the request, or
// nil.
func (s *State) Principal() any {
	if s.published.Load()&fieldPrincipal == 0 {
		return nil
	}
	return s.principal
}

// ClientIP returns the client IP ipfilter resolved (invalid: resolution
// failed closed), and whether resolution ran at all.
func (s *State) ClientIP() (netip.Addr, bool) {
	if s.published.Load()&fieldClientIP == 0 {
		return netip.Addr{}, false
	}
	return s.clientIP, true
}

// Observer returns the *observe.Observer chosen for the request, or nil.
func (s *State) Observer() any {
	if s.published.Load()&fieldObserver == 0 {
		return nil
	}
	return s.observer
}

type key struct{}

type node struct {
	context.Context
	owner *http.Request // the request this node was made for; nil: none
	state State
}

// Value returns the node's State for the package's key and defers to the
// parent otherwise.
func (n *node) Value(k any) any {
	if k == (key{}) {
		return &n.state
	}
	return n.Context.Value(k)
}

// From returns the request's State, or nil if no tollgate layer made one.
func From(ctx context.Context) *State {
	s, _ := ctx.Value(key{}).(*State)
	return s
}

// value is what one of the functions below writes.
type value struct {
	field uint32
	v     any
	addr  netip.Addr
}

// claim reserves val's field of s for the caller, unless it was taken.
func (s *State) claim(field uint32) bool {
	for {
		c := s.claimed.Load()
		if c&field != 0 {
			return false
		}
		if s.claimed.CompareAndSwap(c, c|field) {
			return true
		}
	}
}

// write sets a field the caller claimed, then publishes it.
func (s *State) write(val value) {
	switch val.field {
	case fieldFormat:
		s.format = val.v
	case fieldPrincipal:
		s.principal = val.v
	case fieldClientIP:
		s.clientIP = val.addr
	case fieldObserver:
		s.observer = val.v
	}
	s.published.Or(val.field)
}

// derive returns a new node under ctx holding a copy of the nearest node's
// published values, with val written. A copied value counts as written: it
// is never overwritten in place.
func derive(ctx context.Context, val value) *node {
	n := &node{Context: ctx}
	if s := From(ctx); s != nil {
		var have uint32
		if f := s.Format(); f != nil {
			n.state.format, have = f, have|fieldFormat
		}
		if p := s.Principal(); p != nil {
			n.state.principal, have = p, have|fieldPrincipal
		}
		if a, ok := s.ClientIP(); ok {
			n.state.clientIP, have = a, have|fieldClientIP
		}
		if o := s.Observer(); o != nil {
			n.state.observer, have = o, have|fieldObserver
		}
		n.state.claimed.Store(have)
		n.state.published.Store(have)
	}
	n.state.claimed.Or(val.field)
	n.state.write(val)
	return n
}

// set writes val for r and returns the request to hand down: r itself when
// r owns its node and the field is free (no allocation), otherwise a copy of
// r with a new node it owns (two allocations).
func set(r *http.Request, val value) *http.Request {
	if n, ok := r.Context().(*node); ok && n.owner == r && n.state.claim(val.field) {
		n.state.write(val)
		return r
	}
	n := derive(r.Context(), val)
	r = r.WithContext(n)
	n.owner = r
	return r
}

// SetFormat records the error format for r and the layers below it.
func SetFormat(r *http.Request, f any) *http.Request {
	return set(r, value{field: fieldFormat, v: f})
}

// SetPrincipal records the principal for r and the layers below it.
func SetPrincipal(r *http.Request, p any) *http.Request {
	return set(r, value{field: fieldPrincipal, v: p})
}

// SetClientIP records the resolved client IP (invalid: resolution failed
// closed) for r and the layers below it.
func SetClientIP(r *http.Request, addr netip.Addr) *http.Request {
	return set(r, value{field: fieldClientIP, addr: addr})
}

// SetObserver records the observer for r and the layers below it.
func SetObserver(r *http.Request, o any) *http.Request {
	return set(r, value{field: fieldObserver, v: o})
}

// WithFormat returns a new context carrying f, like context.WithValue: ctx
// and every context derived from it are left as they were.
func WithFormat(ctx context.Context, f any) context.Context {
	return derive(ctx, value{field: fieldFormat, v: f})
}

// WithObserver returns a new context carrying o, like WithFormat.
func WithObserver(ctx context.Context, o any) context.Context {
	return derive(ctx, value{field: fieldObserver, v: o})
}

// WithPrincipal returns a new context carrying p, like WithFormat.
func WithPrincipal(ctx context.Context, p any) context.Context {
	return derive(ctx, value{field: fieldPrincipal, v: p})
}

// WithClientIP returns a new context carrying addr, like WithFormat.
func WithClientIP(ctx context.Context, addr netip.Addr) context.Context {
	return derive(ctx, value{field: fieldClientIP, addr: addr})
}
