package jwt

import (
	"encoding/json"
	stderrors "errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/tollgate/tollgate/principal"
)

// ClaimsDecoder turns the claims of a verified token into the value
// principal.ClaimsAs returns (Issuer.Claims). payload is the token's JSON
// claims set exactly as signed, already checked to be one object in valid
// UTF-8 without a member name repeated at any depth. An error refuses the
// token as invalid_token, with the error in the refusal's Err for logs.
//
// The decoder runs once per token, after the signature, the audience and
// the times were checked, when the token is first seen; the value it
// returns is cached with the principal and handed to every request that
// presents the same token, so it must not be changed afterwards.
type ClaimsDecoder func(payload []byte) (any, error)

// DecodeClaims returns a ClaimsDecoder that decodes the claims into a T
// with encoding/json (struct tags as usual; members T does not name are
// ignored, a member of the wrong JSON type is an error and refuses the
// token), for reading with principal.ClaimsAs[T]:
//
//	type orderClaims struct {
//		OrgID  string   `json:"org_id"`
//		Stores []string `json:"stores"`
//	}
//	jwt.Issuer{…, Claims: jwt.DecodeClaims[orderClaims]()}
//	…
//	c, ok := principal.ClaimsAs[orderClaims](p) // no map walk, no allocation
func DecodeClaims[T any]() ClaimsDecoder {
	return func(payload []byte) (any, error) {
		var t T
		if err := json.Unmarshal(payload, &t); err != nil {
			return nil, err
		}
		return t, nil
	}
}

// tokenExtras are what an issuer reads from a verified token besides the
// registered claims: its roles and its typed claims.
type tokenExtras struct {
	roles []string
	typed any
}

// extras reads the roles and the typed claims of a token whose claims are
// payload, as JSON, and claims, decoded. It runs on the first-seen path
// only.
func (is *jwtIssuer) extras(payload []byte, claims map[string]any) (tokenExtras, error) {
	var x tokenExtras
	var err error
	if x.roles, err = principal.ParseRoles(claims, is.roleClaims...); err != nil {
		return x, fmt.Errorf("%w: %w", errJWTClaim, err)
	}
	if is.claimsDecoder != nil {
		// encoding/json, which decoders use, matches member names to fields
		// without regard to case and takes the last: {"org_id":"A",
		// "ORG_ID":"B"} would read as B there and as A through StringClaim.
		// Such claims are refused, so that one token has one reading.
		if err := caseFoldedTwice(claims); err != nil {
			return x, fmt.Errorf("%w: %w", errJWTClaim, err)
		}
		if x.typed, err = is.claimsDecoder(payload); err != nil {
			return x, fmt.Errorf("%w: Issuer.Claims: %w", errJWTClaim, err)
		}
	}
	return x, nil
}

// checkRoleClaims refuses an empty role claim path at start-up.
func checkRoleClaims(paths []string) error {
	if slices.Contains(paths, "") {
		return fmt.Errorf("an empty path in RoleClaims")
	}
	return nil
}

var errCaseFolded = stderrors.New("claims hold two members whose names differ only in case")

// caseFoldedTwice refuses decoded claims with two member names, in one
// object at any depth, that are equal under case folding.
func caseFoldedTwice(claims map[string]any) error {
	var walk func(v any) error
	walk = func(v any) error {
		switch v := v.(type) {
		case map[string]any:
			seen := make(map[string]struct{}, len(v))
			for k, m := range v {
				f := foldKey(k)
				if _, dup := seen[f]; dup {
					return errCaseFolded
				}
				seen[f] = struct{}{}
				if err := walk(m); err != nil {
					return err
				}
			}
		case []any:
			for _, m := range v {
				if err := walk(m); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(claims)
}

// foldKey maps every rune of s to the smallest rune of its Unicode case
// orbit, as encoding/json's case-insensitive match does (K, k and the Kelvin
// sign are one; s and ſ are one).
func foldKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}
