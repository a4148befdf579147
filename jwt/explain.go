package jwt

import (
	"context"
	"crypto"
	"encoding/base64"
	stderrors "errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/principal"
)

// StepName names one check of a token's verification, in the order the
// Verifier runs them.
type StepName string

// The checks of a token, in the order Verify runs them. Checks that need no
// key come first.
const (
	StepShape             StepName = "shape"              // a compact JWS: three base64url parts, no padding or whitespace
	StepHeader            StepName = "header"             // the header is strict JSON with an alg and no crit, jwk, jku, x5u, x5c, zip, enc or nested JWT
	StepClaims            StepName = "claims"             // the claims are strict JSON
	StepIssuer            StepName = "iss"                // iss names a configured issuer (and tenant)
	StepAlgorithm         StepName = "alg"                // alg is one of the issuer's Algorithms
	StepType              StepName = "typ"                // typ is the issuer's RequiredTyp, if it has one
	StepTokenKind         StepName = "kind"               // an access token, not an ID, refresh or logout token
	StepRegisteredClaims  StepName = "registered-claims"  // exp present; exp, nbf, iat NumericDates; aud, sub, jti of their types
	StepAudience          StepName = "aud"                // aud names an audience, or the client ID is one of ClientIDs
	StepSignatureEncoding StepName = "signature-encoding" // the signature part is strict base64url
	StepKey               StepName = "key"                // a key of the issuer suits (kid, alg)
	StepSignature         StepName = "signature"          // the signature verifies with that key
	StepExpiry            StepName = "exp"                // now is before exp + Leeway
	StepNotBefore         StepName = "nbf"                // nbf, if present, is not after now + Leeway
	StepIssuedAt          StepName = "iat"                // iat, if present, is not after now + Leeway
	StepLifetime          StepName = "lifetime"           // exp is within MaxLifetime (+ Leeway) of iat or now
	StepRoles             StepName = "roles"              // role claims (and Issuer.Claims) decode
)

// steps are the StepNames in the order verify passes them.
var steps = []StepName{
	StepShape, StepHeader, StepClaims, StepIssuer, StepAlgorithm, StepType,
	StepTokenKind, StepRegisteredClaims, StepAudience, StepSignatureEncoding,
	StepKey, StepSignature, StepExpiry, StepNotBefore, StepIssuedAt,
	StepLifetime, StepRoles,
}

// Outcome is what became of one check.
type Outcome int

// The outcomes of a check.
const (
	// NotReached: an earlier check refused the token, so this one did not run.
	NotReached Outcome = iota
	// Passed: the check ran and the token met it.
	Passed
	// Failed: the check refused the token; Verify returns its error.
	Failed
)

func (o Outcome) String() string {
	switch o {
	case Passed:
		return "pass"
	case Failed:
		return "FAIL"
	}
	return "-"
}

// Step is one check of Explain's account.
type Step struct {
	Name    StepName
	Outcome Outcome
	// Detail says what the check saw: for a check that passed, the values
	// it read (alg, kid, audiences, times and the leeway); for the one that
	// failed, the refusal's cause, as Verify's error carries it in Err. It
	// holds what the token carries and the configuration's public parts,
	// never key material beyond a key's kid and RFC 7638 thumbprint.
	Detail string
}

// Explanation is Explain's account of one token.
type Explanation struct {
	// Steps are every check, in the order Verify runs them: the ones that
	// passed, at most one that failed, and the ones not reached after it.
	Steps []Step
	// Principal is what Verify returns for the token, or nil.
	Principal *principal.Principal
	// Err is the error Verify returns for the token (an *errors.Error), or
	// nil.
	Err error
}

// trace records the checks verify passes, for Explain. Its methods do
// nothing on a nil trace, which is what Verify passes.
type trace struct {
	done []StepName
	key  *verifyKey
}

func (t *trace) passed(s StepName) {
	if t != nil {
		t.done = append(t.done, s)
	}
}

func (t *trace) foundKey(k *verifyKey) {
	if t != nil {
		t.key = k
		t.done = append(t.done, StepKey)
	}
}

// Explain verifies token as Verify does, by the same code, and tells each
// check it ran and what came of it. Its Err and Principal are what Verify
// returns for the token at the same moment (with the same clock and key
// sets); it skips the verified-token cache, so every check runs, and
// fetches a key set as Verify would. It is for operators and for the
// `tollgate explain` command: the Details say why a token is refused, which
// Verify tells only in its error's Err, so never show them to the caller of
// an API.
func (v *Verifier) Explain(ctx context.Context, token string) *Explanation {
	tr := &trace{}
	p, err := v.verify(ctx, token, tr)
	if err == nil {
		tr.passed(StepRoles)
	}
	ex := &Explanation{Principal: p, Err: err}
	d := v.describe(token, tr)
	failed := false
	for _, s := range steps {
		st := Step{Name: s}
		switch {
		case slices.Contains(tr.done, s):
			st.Outcome, st.Detail = Passed, d[s]
		case err != nil && !failed:
			failed = true
			st.Outcome, st.Detail = Failed, cause(err)
		}
		ex.Steps = append(ex.Steps, st)
	}
	return ex
}

// cause is the reason a refusal gives in its Err.
func cause(err error) string {
	var e *tgerrors.Error
	if stderrors.As(err, &e) && e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Kind, e.Err)
	}
	return err.Error()
}

// describe says, for each check that passed, what it read. It reads the
// token with verify's own parsers and reads nothing verify did not accept.
func (v *Verifier) describe(token string, tr *trace) map[StepName]string {
	d := map[StepName]string{}
	d1, d2, err := splitCompact(token)
	if err != nil {
		return d
	}
	d[StepShape] = fmt.Sprintf("compact JWS, %d bytes", len(token))
	hm, err := decodeObject(token[:d1])
	if err != nil {
		return d
	}
	h, err := parseHeader(hm)
	if err != nil {
		return d
	}
	kid := "no kid"
	if h.hasKID {
		kid = fmt.Sprintf("kid %q", h.kid)
	}
	typ := "no typ"
	if h.typ != "" {
		typ = fmt.Sprintf("typ %q", h.typ)
	}
	d[StepHeader] = fmt.Sprintf("alg %s, %s, %s", h.alg, typ, kid)
	claims, err := decodeObject(token[d1+1 : d2])
	if err != nil {
		return d
	}
	d[StepClaims] = fmt.Sprintf("%d claims", len(claims))
	iss, _ := claims["iss"].(string)
	is, _, err := v.issuerOf(iss, claims)
	if err != nil {
		return d
	}
	d[StepIssuer] = fmt.Sprintf("%q is trusted", iss)
	var algs []string
	for _, a := range is.algs {
		algs = append(algs, a.name)
	}
	d[StepAlgorithm] = fmt.Sprintf("%s is allowed (%s)", h.alg, strings.Join(algs, ", "))
	if is.requiredTyp == "" {
		d[StepType] = "no typ required"
	} else {
		d[StepType] = fmt.Sprintf("typ %q is the required %q", h.typ, is.requiredTyp)
	}
	if is.kinds.AcceptIDTokens {
		d[StepTokenKind] = "no sign of a refresh or logout token (ID tokens accepted)"
	} else {
		d[StepTokenKind] = "no sign of an ID, refresh or logout token"
	}
	tc, err := readClaims(claims)
	if err != nil {
		return d
	}
	d[StepRegisteredClaims] = fmt.Sprintf("sub %q, jti %q", tc.subject, tc.tokenID)
	switch {
	case is.anyAudience:
		d[StepAudience] = fmt.Sprintf("aud %q (any audience accepted)", tc.audience)
	case is.acceptsAudience(tc.audience):
		d[StepAudience] = fmt.Sprintf("aud %q names one of %q", tc.audience, is.audiences)
	default:
		d[StepAudience] = fmt.Sprintf("aud %q; the client ID is one of %q", tc.audience, is.clientIDs)
	}
	d[StepSignatureEncoding] = "base64url"
	if k := tr.key; k != nil {
		d[StepKey] = describeKey(k)
		d[StepSignature] = fmt.Sprintf("%s signature verifies", h.alg)
	}
	now := v.now()
	if left := tc.exp.Sub(now).Round(time.Second); left > 0 {
		d[StepExpiry] = fmt.Sprintf("exp %s, in %v (leeway %v)", tc.exp.UTC().Format(time.RFC3339), left, v.leeway)
	} else {
		d[StepExpiry] = fmt.Sprintf("exp %s, %v ago, within the leeway of %v", tc.exp.UTC().Format(time.RFC3339), -left, v.leeway)
	}
	d[StepNotBefore] = "no nbf"
	if tc.hasNBF {
		d[StepNotBefore] = fmt.Sprintf("nbf %s (leeway %v)", tc.nbf.UTC().Format(time.RFC3339), v.leeway)
	}
	d[StepIssuedAt] = "no iat"
	if tc.hasIAT {
		d[StepIssuedAt] = fmt.Sprintf("iat %s (leeway %v)", tc.iat.UTC().Format(time.RFC3339), v.leeway)
	}
	d[StepLifetime] = "no MaxLifetime"
	if is.maxLifetime > 0 {
		d[StepLifetime] = fmt.Sprintf("within MaxLifetime %v", is.maxLifetime)
	}
	d[StepRoles] = fmt.Sprintf("scopes %q, roles %q", principal.ParseScopes(claims, is.scopeClaims...), rolesOf(claims, is))
	return d
}

func rolesOf(claims map[string]any, is *jwtIssuer) []string {
	r, _ := principal.ParseRoles(claims, is.roleClaims...)
	return r
}

// describeKey names a key by its kid, type and RFC 7638 thumbprint: nothing
// that is not public.
func describeKey(k *verifyKey) string {
	var pub any
	kind := ""
	switch {
	case k.rsa != nil:
		pub, kind = k.rsa, fmt.Sprintf("RSA %d bits", k.rsa.N.BitLen())
	case k.ec != nil:
		pub, kind = k.ec, "EC "+k.ec.Curve.Params().Name
	case k.ed != nil:
		pub, kind = k.ed, "Ed25519"
	default:
		return "the issuer's HMAC secret"
	}
	s := fmt.Sprintf("kid %q, %s", k.kid, kind)
	if jk, err := jwk.Import(pub); err == nil {
		if tp, err := jk.Thumbprint(crypto.SHA256); err == nil {
			s += ", thumbprint " + base64.RawURLEncoding.EncodeToString(tp)
		}
	}
	return s
}
