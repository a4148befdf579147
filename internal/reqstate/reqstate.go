// Package reqstate carries what tollgate's layers hand down one request: the
// error format, the client IP and the principal, in one context node.
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
// principal); nothing below ever sees a value change. Fields are written
// only by the goroutine serving the owner request, before it calls the next
// handler, so reads from goroutines the handler starts are ordered after
// them.
package reqstate

import (
	"context"
	"net/http"
	"net/netip"
)

// State is one request's values. Read it through From; write it only through
// this package's functions.
type State struct {
	// Format is the errors.Format chosen by errors.Use, or nil.
	Format any
	// Principal is the *principal.Principal Authenticate admitted, or nil.
	Principal any
	// ClientIP is the address ipfilter resolved; invalid when resolution
	// failed closed. HasClientIP reports whether resolution ran at all.
	ClientIP    netip.Addr
	HasClientIP bool

	written uint32 // fieldFormat | fieldPrincipal | fieldClientIP
}

const (
	fieldFormat uint32 = 1 << iota
	fieldPrincipal
	fieldClientIP
)

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

func (s *State) write(val value) {
	s.written |= val.field
	switch val.field {
	case fieldFormat:
		s.Format = val.v
	case fieldPrincipal:
		s.Principal = val.v
	case fieldClientIP:
		s.ClientIP, s.HasClientIP = val.addr, true
	}
}

// derive returns a new node under ctx holding a copy of the nearest node's
// values, with val written.
func derive(ctx context.Context, val value) *node {
	n := &node{Context: ctx}
	if s := From(ctx); s != nil {
		n.state = *s
	}
	n.state.write(val)
	return n
}

// set writes val for r and returns the request to hand down: r itself when
// r owns its node and the field is empty (no allocation), otherwise a copy
// of r with a new node it owns (two allocations).
func set(r *http.Request, val value) *http.Request {
	if n, ok := r.Context().(*node); ok && n.owner == r && n.state.written&val.field == 0 {
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

// WithFormat returns a new context carrying f, like context.WithValue: ctx
// and every context derived from it are left as they were.
func WithFormat(ctx context.Context, f any) context.Context {
	return derive(ctx, value{field: fieldFormat, v: f})
}

// WithPrincipal returns a new context carrying p, like WithFormat.
func WithPrincipal(ctx context.Context, p any) context.Context {
	return derive(ctx, value{field: fieldPrincipal, v: p})
}

// WithClientIP returns a new context carrying addr, like WithFormat.
func WithClientIP(ctx context.Context, addr netip.Addr) context.Context {
	return derive(ctx, value{field: fieldClientIP, addr: addr})
}
