package middleware

import (
	"net/http"
	"slices"

	"github.com/tollgate/tollgate/observe"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/principal"
)

// RequireType returns a middleware that admits only principals whose Type is
// one of types: merchant-only or customer-only routes, client-credentials
// routes. A principal of another type is refused with wrong_token_type
// (403); a request with no principal (Authenticate did not run before) with
// missing_token (401), so the route fails closed. RequireType panics if
// types is empty.
func RequireType(types ...string) func(http.Handler) http.Handler {
	if len(types) == 0 {
		panic("middleware.RequireType: no token type given")
	}
	types = slices.Clone(types)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := principal.From(r.Context())
			switch {
			case !ok:
				observe.Refuse(r.Context(), observe.LayerRequireType, string(errMissingToken.Kind))
				tgerrors.Write(w, r, errMissingToken)
			case !slices.Contains(types, p.Type()):
				observe.Refuse(r.Context(), observe.LayerRequireType, string(errWrongType.Kind))
				tgerrors.Write(w, r, errWrongType)
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
}

var errWrongType = tgerrors.New(tgerrors.WrongTokenType, "")
