package middleware

import (
	"math"
	"net/http"
	"strconv"

	"github.com/tollgate/tollgate/observe"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/principal"
)

// RequireTenant returns a middleware that binds a request header to a claim
// of the token: an organization or app id header that must name the
// tenant the token was issued for. A missing or empty header, or one sent
// more than once, is refused with validation (400); a header that differs
// from the claim, or a token without the claim, with forbidden (403); a
// request with no principal with missing_token (401).
//
// The claim may be a JSON string or an integer up to 2^53 (compared in
// decimal); header and claim are compared exactly. Larger numeric ids (64-bit
// snowflakes) lose digits in a JSON number decoded as float64, so a token
// carrying one as a number is refused with forbidden: issue such ids as
// strings. RequireTenant panics
// if header or claim is empty.
func RequireTenant(header, claim string) func(http.Handler) http.Handler {
	if header == "" || claim == "" {
		panic("middleware.RequireTenant: header and claim are required")
	}
	header = http.CanonicalHeaderKey(header)
	missing := tgerrors.New(tgerrors.Validation, "The "+header+" header is required")
	mismatch := tgerrors.New(tgerrors.Forbidden, "The "+header+" header does not match the access token")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := principal.From(r.Context())
			if !ok {
				observe.Refuse(r.Context(), observe.LayerRequireTenant, string(errMissingToken.Kind))
				tgerrors.Write(w, r, errMissingToken)
				return
			}
			values := r.Header[header]
			if len(values) != 1 || values[0] == "" {
				observe.Refuse(r.Context(), observe.LayerRequireTenant, string(missing.Kind))
				tgerrors.Write(w, r, missing)
				return
			}
			if want, ok := claimString(p, claim); !ok || values[0] != want {
				observe.Refuse(r.Context(), observe.LayerRequireTenant, string(mismatch.Kind))
				tgerrors.Write(w, r, mismatch)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// maxExactInteger is 2^53: every integer up to it has an exact float64.
const maxExactInteger = 1 << 53

// claimString renders a string or numeric claim for comparison with a header.
// A number is accepted only as an integer a JSON decoder could hold exactly:
// beyond 2^53 a float64 is rounded, and comparing the rounded value would
// admit the header of a neighbouring tenant while refusing the token's own.
func claimString(p *principal.Principal, name string) (string, bool) {
	v, _ := p.Claim(name)
	switch v := v.(type) {
	case string:
		return v, v != ""
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > maxExactInteger {
			return "", false
		}
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case int:
		return strconv.Itoa(v), true
	}
	return "", false
}
