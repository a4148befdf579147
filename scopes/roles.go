package scopes

import (
	"net/http"
	"slices"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/principal"
)

// RequireRole returns a middleware that admits a caller holding role
// (principal.HasRole). Roles come from the claims an issuer names as role
// claims (jwt.Issuer.RoleClaims), never from scopes: a scope named like
// the role does not pass, and Require never accepts a role.
//
// A caller without the role is refused with forbidden (403), not
// insufficient_scope: insufficient_scope tells a client which scope to ask
// its authorization server for (RFC 6750 §3.1), and no scope request earns a
// role, which the identity provider's administrators assign. The refusal
// does not name the role, so it tells a caller nothing of how access is
// organised. A request with no principal is refused with missing_token
// (401), as Require does. The admitted path allocates nothing. It panics if
// role is empty.
func RequireRole(role string) func(http.Handler) http.Handler {
	return RequireAnyRole(role)
}

// RequireAnyRole returns a middleware that admits a caller holding at
// least one of roles, and refuses others as RequireRole does. It panics if
// roles is empty or holds an empty string.
func RequireAnyRole(roles ...string) func(http.Handler) http.Handler {
	if len(roles) == 0 {
		panic("scopes: no role given")
	}
	if slices.Contains(roles, "") {
		panic("scopes: an empty role")
	}
	roles = slices.Clone(roles)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := principal.From(r.Context())
			if !ok {
				tgerrors.Write(w, r, errMissingToken)
				return
			}
			for _, role := range roles {
				if p.HasRole(role) {
					next.ServeHTTP(w, r)
					return
				}
			}
			tgerrors.Write(w, r, errNoRole)
		})
	}
}

var errNoRole = tgerrors.New(tgerrors.Forbidden, "")
