// Package reqstate carries what tollgate's layers hand down one request: the
// error format, the client IP and the principal, in one context node.
//
// Each layer storing its own context value would cost two allocations (the
// node and the request copy r.WithContext makes) per layer. Instead the
// first layer of a chain makes one node, and the layers below fill its empty
// fields in place. A field is written at most once per node: a layer that
// finds its field already set (a nested errors.Use with another format, a
// second Authenticate) gets a fresh node holding a copy, so what an upper
// layer handed down is never changed under it. A layer above may see a field
// appear after its next handler returns (a logging middleware above
// Authenticate then sees the principal); nothing below ever sees a value
// change.
package reqstate

import (
	"context"
	"net/netip"
	"sync/atomic"
)

// State is one request's values. Read it through From; write it only through
// the With functions.
type State struct {
	// Format is the errors.Format chosen by errors.Use, or nil.
	Format any
	// Principal is the *principal.Principal Authenticate admitted, or nil.
	Principal any
	// ClientIP is the address ipfilter resolved; invalid when resolution
	// failed closed. HasClientIP reports whether resolution ran at all.
	ClientIP    netip.Addr
	HasClientIP bool

	written atomic.Uint32 // fieldFormat | fieldPrincipal | fieldClientIP
}

const (
	fieldFormat uint32 = 1 << iota
	fieldPrincipal
	fieldClientIP
)

type key struct{}

type node struct {
	context.Context
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

// claim reports whether the caller may write field of s in place: s exists
// and nobody wrote field before.
func (s *State) claim(field uint32) bool {
	if s == nil {
		return false
	}
	for {
		w := s.written.Load()
		if w&field != 0 {
			return false
		}
		if s.written.CompareAndSwap(w, w|field) {
			return true
		}
	}
}

// derive returns a new node under ctx holding a copy of s's values (none if
// s is nil) with field marked written.
func derive(ctx context.Context, s *State, field uint32) *node {
	n := &node{Context: ctx}
	if s != nil {
		n.state.Format, n.state.Principal = s.Format, s.Principal
		n.state.ClientIP, n.state.HasClientIP = s.ClientIP, s.HasClientIP
		n.state.written.Store(s.written.Load())
	}
	n.state.written.Store(n.state.written.Load() | field)
	return n
}

// WithFormat records f. It returns ctx itself when the format was written
// in place (no allocation), or a new context that the caller must hand down
// with r.WithContext.
func WithFormat(ctx context.Context, f any) (context.Context, bool) {
	s := From(ctx)
	if s.claim(fieldFormat) {
		s.Format = f
		return ctx, false
	}
	n := derive(ctx, s, fieldFormat)
	n.state.Format = f
	return n, true
}

// WithPrincipal records p, like WithFormat.
func WithPrincipal(ctx context.Context, p any) (context.Context, bool) {
	s := From(ctx)
	if s.claim(fieldPrincipal) {
		s.Principal = p
		return ctx, false
	}
	n := derive(ctx, s, fieldPrincipal)
	n.state.Principal = p
	return n, true
}

// WithClientIP records the resolved client IP (invalid: resolution failed
// closed), like WithFormat.
func WithClientIP(ctx context.Context, addr netip.Addr) (context.Context, bool) {
	s := From(ctx)
	if s.claim(fieldClientIP) {
		s.ClientIP, s.HasClientIP = addr, true
		return ctx, false
	}
	n := derive(ctx, s, fieldClientIP)
	n.state.ClientIP, n.state.HasClientIP = addr, true
	return n, true
}
