package jose

import "strings"

// tokenKind is what a name such as a token_use, token_type or typ value
// says a token is.
type tokenKind uint8

const (
	kindUnknown tokenKind = iota
	kindAccess
	kindID
	kindRefresh // refresh tokens, Keycloak's offline tokens
	kindOther   // logout tokens and the other JWTs that are never bearer tokens
)

// kindNames maps the lower-case names authorization servers give token
// kinds to the kind: RFC 8693 token type URIs, RFC 7009 hints, Cognito's
// token_use, Ory Hydra's and Duende's token_use and token_type, Keycloak's
// "typ" claim.
var kindNames = map[string]tokenKind{
	"access":       kindAccess,
	"access_token": kindAccess,
	"urn:ietf:params:oauth:token-type:access_token": kindAccess,
	"id":       kindID,
	"id_token": kindID,
	"idtoken":  kindID,
	"urn:ietf:params:oauth:token-type:id_token": kindID,
	"refresh":       kindRefresh,
	"refresh_token": kindRefresh,
	"refreshtoken":  kindRefresh,
	"urn:ietf:params:oauth:token-type:refresh_token": kindRefresh,
	"offline":       kindRefresh,
	"offline_token": kindRefresh,
	"logout":        kindOther,
	"logout_token":  kindOther,
	"serialized-id": kindID, // Keycloak's serialized ID token
}

func kindOf(name string) tokenKind {
	k, _ := lookupFold(kindNames, name, "")
	return k
}

// lookupFold looks s up in m ignoring ASCII case and, if s starts with
// prefix in any case, without it. Every key of m is lower case and short;
// the folding is done on the stack, so nothing is allocated.
func lookupFold[V any](m map[string]V, s, prefix string) (V, bool) {
	var buf [64]byte
	var zero V
	if len(s) > len(buf) {
		return zero, false
	}
	b := buf[:len(s)]
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	if len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix {
		b = b[len(prefix):]
	}
	v, ok := m[string(b)]
	return v, ok
}

// idTokenClaims are carried by OpenID Connect ID tokens and by no access
// token: the request's nonce and the hashes binding the ID token to the
// access token, the code and the state (OIDC Core §2, §3.3.2.11; FAPI).
// "auth_time" is not among them: RFC 9068 access tokens carry it too.
var idTokenClaims = []string{"nonce", "at_hash", "c_hash", "s_hash"}

// KindPolicy decides which tokens are plainly not access tokens. Its zero
// value is the default: refuse ID tokens and every other kind.
type KindPolicy struct {
	// AcceptIDTokens lets the signs of an OpenID Connect ID token through;
	// refresh, offline and logout tokens are refused whatever it says.
	AcceptIDTokens bool
	// TokenUseIsType says "token_use" carries the issuer's own type names
	// (it is the issuer's TypeClaim), so only a value naming another kind
	// of token is refused there, not every value but "access".
	TokenUseIsType bool
}

// NotAccessToken returns why claims (a JWT's, or an introspection answer's)
// are plainly not those of an access token, or "" when nothing says so:
//
//   - a claim only ID tokens carry: nonce, at_hash, c_hash, s_hash;
//   - an "events" claim: back-channel logout tokens (OIDC Back-Channel
//     Logout §2.4, whose logout+jwt typ is only recommended) and RFC 8417
//     security event tokens, never access tokens, whatever AcceptIDTokens
//     says;
//   - "token_use" (Cognito, Hydra) present and naming anything but an
//     access token ("access", "access_token", or RFC 8693's URI), or,
//     with TokenUseIsType, naming an ID, refresh or logout token;
//   - "token_type" (RFC 7662, Duende, Hydra) or "typ" (Keycloak) naming a
//     refresh, offline, ID or logout token; other values ("Bearer",
//     "DPoP") say nothing of the kind.
//
// The reason is for logs. It costs a few map lookups and no allocation.
func (p KindPolicy) NotAccessToken(claims map[string]any) string {
	if _, ok := claims["events"]; ok {
		return "an events claim (a logout or security event token)"
	}
	if !p.AcceptIDTokens {
		for _, name := range idTokenClaims {
			if _, ok := claims[name]; ok {
				return "an ID token claim (" + name + ")"
			}
		}
	}
	if v, ok := claims["token_use"]; ok {
		s, _ := v.(string)
		switch k := kindOf(s); {
		case k == kindAccess, k == kindID && p.AcceptIDTokens, k == kindUnknown && p.TokenUseIsType:
		default:
			return "token_use is not access"
		}
	}
	for _, name := range [...]string{"token_type", "typ"} {
		s, _ := claims[name].(string)
		switch kindOf(s) {
		case kindRefresh, kindOther:
			return name + " names a token that is not an access token"
		case kindID:
			if !p.AcceptIDTokens {
				return name + " names an ID token"
			}
		}
	}
	return ""
}

// nonAccessTyps are "typ" header values of JWTs that are not access tokens
// (normalized: lower case, without "application/"), with whether each is an
// ID token.
var nonAccessTyps = map[string]bool{
	"id_token+jwt":               true,  // ID tokens typed explicitly
	"logout+jwt":                 false, // OIDC Back-Channel Logout 1.0 §2.4
	"secevent+jwt":               false, // RFC 8417 security event tokens
	"dpop+jwt":                   false, // RFC 9449 DPoP proofs
	"token-introspection+jwt":    false, // RFC 9701 introspection answers
	"oauth-authz-req+jwt":        false, // RFC 9101 request objects
	"kb+jwt":                     false, // SD-JWT key binding
	"entity-statement+jwt":       false, // OpenID Federation
	"trust-mark+jwt":             false, // OpenID Federation
	"client-attestation+jwt":     false, // OAuth attestation-based client auth
	"client-attestation-pop+jwt": false,
	"refresh+jwt":                false,
	"vc+jwt":                     false, // verifiable credentials
	"vp+jwt":                     false,
}

// NotAccessTyp returns why a JWS "typ" header names a JWT that is not an
// access token, or "". An ID token's typ is let through with AcceptIDTokens.
func (p KindPolicy) NotAccessTyp(typ string) string {
	if !strings.Contains(typ, "+") { // every listed value has a suffix
		return ""
	}
	isID, listed := lookupFold(nonAccessTyps, typ, "application/")
	if !listed || isID && p.AcceptIDTokens {
		return ""
	}
	return "typ " + typ + " is not an access token"
}
