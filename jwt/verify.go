package jwt

import (
	"context"
	"encoding/base64"
	stderrors "errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/tollgate/tollgate/internal/jose"
	"github.com/tollgate/tollgate/internal/lazyclaims"
	"github.com/tollgate/tollgate/principal"
)

// The causes a token is refused for, carried in errors.Error.Err for logs
// and for errors.Is in tests. None of them reaches the client.
var (
	errJWTMalformed      = stderrors.New("not a compact JWS")
	errJWTDuplicate      = stderrors.New("duplicate JSON member name")
	errJWTEncoding       = stderrors.New("JSON text not valid UTF-8, or an escape of no character")
	errJWTHeader         = stderrors.New("header refused")
	errJWTUnknownIssuer  = stderrors.New("issuer not trusted")
	errJWTAlgorithm      = stderrors.New("algorithm not allowed for this issuer")
	errJWTType           = stderrors.New("typ header not accepted")
	errJWTTokenKind      = stderrors.New("not an access token")
	errJWTAudience       = stderrors.New("audience not accepted")
	errJWTClaim          = stderrors.New("claim malformed or missing")
	errJWTNoKey          = stderrors.New("no key suits the token's kid and alg")
	errJWTSignature      = stderrors.New("signature does not verify")
	errJWTExpired        = stderrors.New("token expired")
	errJWTNotYetValid    = stderrors.New("token not valid yet (nbf)")
	errJWTIssuedInFuture = stderrors.New("token issued in the future (iat)")
	errJWKSUnavailable   = stderrors.New("no valid key set for the issuer")
)

// base64URL is the only alphabet a compact JWS may use (RFC 7515 §2: no
// padding, no line breaks, no whitespace). Go's decoder skips '\r' and '\n',
// so the bytes are checked before it sees them.
var base64URL = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = true
	}
	return t
}()

// strictB64 refuses non-zero trailing bits, so that one token has exactly
// one spelling.
var strictB64 = base64.RawURLEncoding.Strict()

// splitCompact returns the positions of the two dots of a compact JWS, after
// checking that the token is three non-empty base64url parts. This refuses
// the JWS JSON serialization, JWE (five parts), unsecured JWS (empty
// signature), padding and whitespace.
func splitCompact(token string) (d1, d2 int, err error) {
	if len(token) > maxJWTBytes {
		return 0, 0, fmt.Errorf("%w: longer than %d bytes", errJWTMalformed, maxJWTBytes)
	}
	d1, d2 = -1, -1
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case base64URL[c]:
		case c == '.' && d1 < 0:
			d1 = i
		case c == '.' && d2 < 0:
			d2 = i
		default:
			return 0, 0, fmt.Errorf("%w: unexpected byte %q at %d", errJWTMalformed, c, i)
		}
	}
	if d2 < 0 || d1 == 0 || d2 == d1+1 || d2 == len(token)-1 {
		return 0, 0, fmt.Errorf("%w: want three non-empty parts", errJWTMalformed)
	}
	return d1, d2, nil
}

// decodeObject decodes one base64url part holding a JSON object. What
// encoding/json would repair or resolve is refused rather than read one way:
// invalid UTF-8 and lone surrogate escapes (RFC 7519 §7.2, RFC 8259 §8.1),
// which it turns into U+FFFD, and member names repeated at any depth, of
// which it keeps the last (RFC 7515 §5.2 and RFC 7519 §4 allow refusing,
// and refusing leaves no room for two parsers to read the same token
// differently). See jose.DecodeObject.
func decodeObject(part string) (map[string]any, error) {
	m, _, err := decodeObjectJSON(part)
	return m, err
}

// decodeObjectJSON is decodeObject that also returns the part's JSON text,
// which the object's strings do not share.
func decodeObjectJSON(part string) (map[string]any, []byte, error) {
	b, err := strictB64.DecodeString(part)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: base64url: %v", errJWTMalformed, err)
	}
	m, err := jose.DecodeObject(b)
	switch {
	case err == nil:
		return m, b, nil
	case stderrors.Is(err, jose.ErrDuplicate):
		return nil, nil, errJWTDuplicate
	case stderrors.Is(err, jose.ErrEncoding):
		return nil, nil, errJWTEncoding
	}
	return nil, nil, fmt.Errorf("%w: %v", errJWTMalformed, err)
}

type jwsHeader struct {
	alg, kid, typ string
	hasKID        bool
}

// parseHeader reads the members the verifier uses and refuses those that
// would have it trust something other than its configuration (RFC 8725
// §3.1, §3.10 and RFC 7515 §4.1.11). Other members are ignored, as RFC 7515
// requires.
func parseHeader(h map[string]any) (jwsHeader, error) {
	var out jwsHeader
	for name, val := range h {
		switch name {
		case "alg", "kid", "typ", "cty":
			s, ok := val.(string)
			if !ok {
				return out, fmt.Errorf("%w: %q is not a string", errJWTHeader, name)
			}
			switch name {
			case "alg":
				out.alg = s
			case "kid":
				out.kid, out.hasKID = s, true
			case "typ":
				out.typ = s
			case "cty":
				if normalizeTyp(s) == "jwt" {
					return out, fmt.Errorf("%w: nested JWT (cty %q)", errJWTHeader, s)
				}
			}
		case "crit", "b64":
			return out, fmt.Errorf("%w: %q: no JWS extension is supported", errJWTHeader, name)
		case "jwk", "jku", "x5u", "x5c":
			return out, fmt.Errorf("%w: %q: keys are never taken from the token", errJWTHeader, name)
		case "zip", "enc":
			return out, fmt.Errorf("%w: %q belongs to JWE", errJWTHeader, name)
		}
	}
	if out.alg == "" {
		return out, fmt.Errorf("%w: no alg", errJWTHeader)
	}
	return out, nil
}

func (is *jwtIssuer) algorithm(name string) *jwsAlgorithm {
	for _, a := range is.algs {
		if a.name == name {
			return a
		}
	}
	return nil
}

// tokenTimes are a token's registered time claims.
type tokenTimes struct {
	issuer           string // the token's "iss"
	exp, nbf, iat    time.Time
	hasNBF, hasIAT   bool
	audience         []string
	subject, tokenID string
}

func readClaims(claims map[string]any) (tokenTimes, error) {
	var t tokenTimes
	var ok bool
	var err error
	if t.exp, ok, err = numericDate(claims, "exp"); err != nil {
		return t, err
	} else if !ok {
		return t, fmt.Errorf("%w: no exp", errJWTClaim)
	}
	if t.nbf, t.hasNBF, err = numericDate(claims, "nbf"); err != nil {
		return t, err
	}
	if t.iat, t.hasIAT, err = numericDate(claims, "iat"); err != nil {
		return t, err
	}
	switch aud := claims["aud"].(type) {
	case nil:
	case string:
		t.audience = []string{aud}
	case []any:
		t.audience = make([]string, len(aud))
		for i, a := range aud {
			s, ok := a.(string)
			if !ok {
				return t, fmt.Errorf("%w: aud holds a non-string", errJWTClaim)
			}
			t.audience[i] = s
		}
	default:
		return t, fmt.Errorf("%w: aud is neither a string nor an array", errJWTClaim)
	}
	for _, c := range []struct {
		name string
		dst  *string
	}{{"sub", &t.subject}, {"jti", &t.tokenID}} {
		if v, present := claims[c.name]; present {
			s, ok := v.(string)
			if !ok {
				return t, fmt.Errorf("%w: %s is not a string", errJWTClaim, c.name)
			}
			*c.dst = s
		}
	}
	return t, nil
}

// maxNumericDate keeps seconds exactly representable and far from int64
// overflow once turned into a time.
const maxNumericDate = 1 << 50

func numericDate(claims map[string]any, name string) (time.Time, bool, error) {
	v, present := claims[name]
	if !present {
		return time.Time{}, false, nil
	}
	f, ok := v.(float64)
	if !ok || math.Abs(f) > maxNumericDate {
		return time.Time{}, false, fmt.Errorf("%w: %s is not a NumericDate", errJWTClaim, name)
	}
	sec := math.Floor(f)
	return time.Unix(int64(sec), int64((f-sec)*1e9)), true, nil
}

func (is *jwtIssuer) acceptsAudience(aud []string) bool {
	if is.anyAudience {
		return true
	}
	for _, a := range aud {
		if slices.Contains(is.audiences, a) {
			return true
		}
	}
	return false
}

// verify is the full path for a token the cache does not answer. Checks that
// need no key come first, so that a token refused anyway never costs a key
// lookup, a fetch or a signature check. tr, nil but for Explain, records
// each check passed (see explain.go).
func (v *Verifier) verify(ctx context.Context, token string, tr *trace) (*principal.Principal, error) {
	d1, d2, err := splitCompact(token)
	if err != nil {
		return nil, refuseInvalid(err)
	}
	tr.passed(StepShape)
	hm, err := decodeObject(token[:d1])
	if err != nil {
		return nil, refuseInvalid(fmt.Errorf("header: %w", err))
	}
	h, err := parseHeader(hm)
	if err != nil {
		return nil, refuseInvalid(err)
	}
	tr.passed(StepHeader)
	claims, payload, err := decodeObjectJSON(token[d1+1 : d2])
	if err != nil {
		return nil, refuseInvalid(fmt.Errorf("claims: %w", err))
	}
	tr.passed(StepClaims)
	iss, _ := claims["iss"].(string)
	is, remote, err := v.issuerOf(iss, claims)
	if err != nil {
		return nil, err
	}
	tr.passed(StepIssuer)
	alg := is.algorithm(h.alg)
	if alg == nil {
		return nil, refuseInvalid(fmt.Errorf("%w: %q", errJWTAlgorithm, h.alg))
	}
	tr.passed(StepAlgorithm)
	if is.requiredTyp != "" && normalizeTyp(h.typ) != is.requiredTyp {
		return nil, refuseInvalid(fmt.Errorf("%w: %q", errJWTType, h.typ))
	}
	tr.passed(StepType)
	if why := is.kinds.NotAccessTyp(h.typ); why != "" {
		return nil, refuseInvalid(fmt.Errorf("%w: %s", errJWTTokenKind, why))
	}
	if why := is.kinds.NotAccessToken(claims); why != "" {
		return nil, refuseInvalid(fmt.Errorf("%w: %s", errJWTTokenKind, why))
	}
	tr.passed(StepTokenKind)
	tc, err := readClaims(claims)
	if err != nil {
		return nil, refuseInvalid(err)
	}
	tr.passed(StepRegisteredClaims)
	tc.issuer = iss
	if !is.acceptsAudience(tc.audience) && !is.acceptsClient(claims) {
		return nil, refuseInvalid(fmt.Errorf("%w: %q", errJWTAudience, tc.audience))
	}
	tr.passed(StepAudience)
	sig, err := strictB64.DecodeString(token[d2+1:])
	if err != nil {
		return nil, refuseInvalid(fmt.Errorf("%w: signature: %v", errJWTMalformed, err))
	}
	tr.passed(StepSignatureEncoding)

	key, gen, err := v.key(ctx, is, remote, h, alg)
	if err != nil {
		return nil, err
	}
	tr.foundKey(key)
	if !verifySignature(alg, key, token[:d2], sig) {
		return nil, refuseInvalid(errJWTSignature)
	}
	tr.passed(StepSignature)

	now := v.now()
	if !now.Before(tc.exp.Add(v.leeway)) {
		return nil, refuseExpired(fmt.Errorf("%w at %v", errJWTExpired, tc.exp))
	}
	tr.passed(StepExpiry)
	if tc.hasNBF && now.Add(v.leeway).Before(tc.nbf) {
		return nil, refuseInvalid(fmt.Errorf("%w: nbf %v", errJWTNotYetValid, tc.nbf))
	}
	tr.passed(StepNotBefore)
	if tc.hasIAT && tc.iat.After(now.Add(v.leeway)) {
		return nil, refuseInvalid(fmt.Errorf("%w: iat %v", errJWTIssuedInFuture, tc.iat))
	}
	tr.passed(StepIssuedAt)
	if err := is.checkLifetime(&tc, now, v.leeway); err != nil {
		return nil, refuseInvalid(err)
	}
	tr.passed(StepLifetime)

	x, err := is.extras(payload, claims)
	if err != nil {
		return nil, refuseInvalid(err)
	}
	cached := v.cache != nil && now.Before(tc.exp)
	rawClaims := ""
	if cached {
		rawClaims = token[d1+1 : d2]
	}
	p := is.principal(claims, rawClaims, &tc, x)
	if cached {
		v.cache.Put(token, &cacheEntry{Value: cachedToken{principal: p, issuer: is, remote: remote, gen: gen}, Expires: tc.exp})
	}
	return p, nil
}

// key finds the key for the token's (issuer, kid) and alg.
// remote is the issuer's key source for the token's tenant.
func (v *Verifier) key(ctx context.Context, is *jwtIssuer, remote *jwksSource, h jwsHeader, a *jwsAlgorithm) (*verifyKey, uint64, error) {
	if is.local != nil {
		return is.local.key(h, a)
	}
	if is.static != nil {
		if k := is.static.find(h.kid, h.hasKID, a); k != nil {
			return k, is.static.gen, nil
		}
		return nil, 0, refuseInvalid(fmt.Errorf("%w: kid %q, alg %s", errJWTNoKey, h.kid, a.name))
	}
	return remote.key(ctx, h.kid, h.hasKID, a)
}

// principal builds the token's principal. For a token the cache keeps,
// rawClaims is its encoded claims and the principal keeps those, decoded
// again on first use: the cache holds the token anyway, as its key, so they
// cost no memory until a claim is read. For any other token rawClaims is ""
// and the principal keeps claims as they are, decoded once.
func (is *jwtIssuer) principal(claims map[string]any, rawClaims string, tc *tokenTimes, x tokenExtras) *principal.Principal {
	p := principal.Fields{
		Subject:   tc.subject,
		Issuer:    tc.issuer,
		Type:      is.tokenType,
		TokenID:   tc.tokenID,
		Audience:  tc.audience,
		Scopes:    principal.ParseScopes(claims, is.scopeClaims...),
		ExpiresAt: tc.exp,
		Claims:    claims,
	}
	p.Roles, p.TypedClaims = x.roles, x.typed
	if tc.hasIAT {
		p.IssuedAt = tc.iat
	}
	if tc.hasNBF {
		p.NotBefore = tc.nbf
	}
	for _, name := range is.clientIDClaims {
		if s, ok := claims[name].(string); ok && s != "" {
			p.ClientID = s
			break
		}
	}
	if is.typeClaim != "" {
		if s, ok := claims[is.typeClaim].(string); ok {
			if is.typeValues == nil {
				p.Type = s
			} else if t, ok := is.typeValues[s]; ok {
				p.Type = t
			}
		}
	}
	if rawClaims == "" {
		return principal.New(p)
	}
	return lazyclaims.New(p, rawClaims, decodeObject).(*principal.Principal)
}
