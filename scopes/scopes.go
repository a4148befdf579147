// Package scopes guards routes by the scopes or permissions a token grants:
//
//	mux.Handle("GET /orders/{id}", scopes.Require("can_read_order")(getOrder))
//
// Require admits a caller that holds every listed scope, RequireAny one that
// holds at least one. The scopes come from the *principal.Principal that
// middleware.Authenticate put in the context, parsed once at verification
// (scope as a space-delimited string or JSON array, scp, permissions), so a
// check compares strings and allocates nothing.
//
// A caller without a required scope is refused with insufficient_scope
// (403), and the refusal names the scope the route needs (the challenge's
// scope attribute, in every format, and a scopes member in Problem): what a
// client should ask its authorization server for, so that a client that asks
// for exactly that scope gets a token the route admits. For Require it is
// every listed scope, not only those the token lacks: a client that asked
// for the missing ones alone would get a token without the others. For
// RequireAny it is the first listed scope, the least a client needs to ask
// for (asking for all of them would ask for more privilege than the route
// needs); list the scope you want clients to ask for first. A request with
// no principal at all is refused with missing_token (401): a route guarded
// by scopes alone fails closed even if Authenticate was left out of its
// chain.
//
// Implications let one scope stand for others, such as a write permission that
// implies read. They are transitive and checked at start-up, not per request.
//
// RequireRole and RequireAnyRole guard a route by role or group instead:
//
//	mux.Handle("POST /refunds", scopes.RequireRole("refunder")(refund))
//
// Roles are the principal's own (principal.HasRole, read from the issuer's
// jwt.Issuer.RoleClaims, none by default), never its scopes: a group that
// happens to be named like a scope grants no scope, and a scope grants no
// role. A caller without the role is refused with forbidden (403), which
// names no role and sends no insufficient_scope challenge, since no scope a
// client could ask for would earn it (see RequireRole).
package scopes

import (
	"net/http"
	"slices"

	"github.com/tollgate/tollgate/observe"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/principal"
)

// Require returns a middleware that admits a caller holding every one of
// scopes; a refusal names all of them. It panics if scopes is empty.
func Require(scopes ...string) func(http.Handler) http.Handler {
	return Implications(nil).Require(scopes...)
}

// RequireAny returns a middleware that admits a caller holding at least one
// of scopes; a refusal names the first, the one a client should ask for. It
// panics if scopes is empty.
func RequireAny(scopes ...string) func(http.Handler) http.Handler {
	return Implications(nil).RequireAny(scopes...)
}

// Implications maps a scope to the scopes it also grants:
//
//	im := scopes.Implications{"can_write_order": {"can_read_order"}}
//	mux.Handle("GET /orders", im.Require("can_read_order")(list))
//
// A token with can_write_order then passes the read route. Implications are
// transitive (a implies b, b implies c: a implies c). The nil Implications
// grant nothing beyond each scope itself.
type Implications map[string][]string

// Require is like the package's Require, with im applied.
func (im Implications) Require(scopes ...string) func(http.Handler) http.Handler {
	return im.guard(true, scopes)
}

// RequireAny is like the package's RequireAny, with im applied.
func (im Implications) RequireAny(scopes ...string) func(http.Handler) http.Handler {
	return im.guard(false, scopes)
}

// requirement is one required scope with every granted scope that satisfies
// it, itself included.
type requirement struct {
	scope      string
	satisfiers []string
}

func (im Implications) guard(all bool, scopes []string) func(http.Handler) http.Handler {
	if len(scopes) == 0 {
		panic("scopes: no scope given")
	}
	reqs := make([]requirement, len(scopes))
	for i, s := range scopes {
		reqs[i] = requirement{scope: s, satisfiers: im.satisfiers(s)}
	}
	// The refusal names what to ask for (see the package doc), the same
	// for every request, so it is built once.
	refusal := tgerrors.New(tgerrors.InsufficientScope, "")
	if all {
		refusal.Scopes = slices.Clone(scopes)
	} else {
		refusal.Scopes = []string{scopes[0]}
	}
	held := holdsAll
	if !all {
		held = holdsAny
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := principal.From(r.Context())
			if !ok {
				observe.Refuse(r.Context(), observe.LayerScopes, string(errMissingToken.Kind))
				tgerrors.Write(w, r, errMissingToken)
				return
			}
			if !held(p, reqs) {
				observe.Refuse(r.Context(), observe.LayerScopes, string(refusal.Kind))
				tgerrors.Write(w, r, refusal)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

var errMissingToken = tgerrors.New(tgerrors.MissingToken, "")

// satisfiers returns scope and every scope that implies it, directly or
// through others.
func (im Implications) satisfiers(scope string) []string {
	out := []string{scope}
	for changed := true; changed; {
		changed = false
		for granter, implied := range im {
			if slices.Contains(out, granter) {
				continue
			}
			for _, s := range implied {
				if slices.Contains(out, s) {
					out = append(out, granter)
					changed = true
					break
				}
			}
		}
	}
	return out
}

func (r requirement) heldBy(p *principal.Principal) bool {
	for _, s := range r.satisfiers {
		if p.HasScope(s) {
			return true
		}
	}
	return false
}

func holdsAll(p *principal.Principal, reqs []requirement) bool {
	for _, r := range reqs {
		if !r.heldBy(p) {
			return false
		}
	}
	return true
}

func holdsAny(p *principal.Principal, reqs []requirement) bool {
	for _, r := range reqs {
		if r.heldBy(p) {
			return true
		}
	}
	return false
}
