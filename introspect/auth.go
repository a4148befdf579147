package introspect

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	stderrors "errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/tollgate/tollgate/internal/bearer"
)

// ClientAuth is how this resource server authenticates itself to the
// introspection endpoint (RFC 7662 §2.1 requires it to). Make one with
// ClientSecretBasic, ClientSecretPost, PrivateKeyJWT, BearerToken or
// NoClientAuth; the zero ClientAuth is no choice at all, and New refuses it.
//
// A ClientAuth holds a secret or a signing key. Its String, GoString and
// LogValue name the method and the client id only, so neither a stray %v
// of the Config nor a log line prints the secret.
type ClientAuth struct {
	method   authMethod
	clientID string
	secret   string // the client secret, or the bearer token
	signer   crypto.Signer
	kid      string
	jwtOpts  PrivateKeyJWTOptions
}

type authMethod uint8

const (
	authUnset authMethod = iota
	authBasic
	authPost
	authPrivateKeyJWT
	authBearer
	authNone
)

// The method names are those of OAuth's token_endpoint_auth_method
// registry (RFC 7591 §2), where there is one.
var methodNames = [...]string{
	authUnset:         "unset",
	authBasic:         "client_secret_basic",
	authPost:          "client_secret_post",
	authPrivateKeyJWT: "private_key_jwt",
	authBearer:        "bearer_token",
	authNone:          "none",
}

// ClientSecretBasic authenticates with HTTP Basic (RFC 6749 §2.3.1,
// client_secret_basic): the client id and the secret are each
// application/x-www-form-urlencoded first, then joined by ':' and base64
// encoded, so an id or secret holding ':', '%', '+', a space or non-ASCII
// arrives intact at a server that decodes them as the RFC says. This is the
// method RFC 7662 and most servers (Keycloak, Okta, ZITADEL's "Basic" API
// applications) expect by default.
func ClientSecretBasic(clientID, secret string) ClientAuth {
	return ClientAuth{method: authBasic, clientID: clientID, secret: secret}
}

// ClientSecretPost sends the client id and secret as the form members
// client_id and client_secret of the request body (RFC 6749 §2.3.1,
// client_secret_post), for servers that register the client that way (Okta
// and Keycloak can; RFC 6749 recommends Basic over it).
func ClientSecretPost(clientID, secret string) ClientAuth {
	return ClientAuth{method: authPost, clientID: clientID, secret: secret}
}

// PrivateKeyJWTOptions tunes the client assertions of PrivateKeyJWT. Its
// zero value is the default.
type PrivateKeyJWTOptions struct {
	// Audience is the assertion's "aud". Empty means the introspection
	// endpoint's URL, which RFC 7523 §3 and Okta expect. ZITADEL expects
	// its issuer (e.g. "https://my-instance.zitadel.cloud"); Keycloak
	// accepts the realm's issuer URL as well as its endpoints.
	Audience string
	// Algorithm is the signing algorithm: "RS256" (an RSA key of at least
	// 2048 bits), "ES256" (an ECDSA P-256 key) or "EdDSA" (an Ed25519 key).
	// Empty means the one that suits the signer's public key.
	Algorithm string
	// Lifetime is how long an assertion is valid, from its iat to its exp.
	// Zero means MaxAssertionLifetime, the longest accepted.
	Lifetime time.Duration
}

// MaxAssertionLifetime bounds PrivateKeyJWTOptions.Lifetime, and is its
// default: an assertion is made for one call and sent at once, so a minute
// is ample and a captured one is soon worthless.
const MaxAssertionLifetime = time.Minute

// ClientAssertionType is the client_assertion_type of PrivateKeyJWT's
// requests (RFC 7523 §2.2).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// PrivateKeyJWT authenticates with a JWT signed by this resource server's
// own key (RFC 7523 §2.2 and §3, OpenID Connect Core §9 private_key_jwt):
// each request carries client_assertion_type (ClientAssertionType) and a
// client_assertion whose iss and sub are clientID, aud is
// opts.Audience (the endpoint's URL by default), jti is 128 random bits,
// iat is now (Config.Now) and exp iat + opts.Lifetime (one minute by
// default, at most MaxAssertionLifetime). Its header carries alg and, when
// kid is not empty, kid: the id under which the server knows the public key
// (ZITADEL's key file "keyId", the key's kid in the JWKS registered at
// Keycloak or Okta). No client_id or client_secret is sent.
//
// Every introspection call signs a new assertion; none is reused. Servers
// that remember jti values to refuse a replay (Okta, Keycloak) would
// refuse a reused one, and calls are made only for tokens missing from the
// cache, so the signature (tens of microseconds for ES256 or EdDSA, about a
// millisecond for RS256 2048) is small beside the call it authenticates.
//
// signer may be any crypto.Signer (an *rsa.PrivateKey, *ecdsa.PrivateKey,
// ed25519.PrivateKey, or a KMS or HSM key): it is called from the call's
// goroutine, and a signer that makes a remote call must bound it itself, as
// the time it takes holds one of Config.MaxConcurrentCalls.
func PrivateKeyJWT(clientID string, signer crypto.Signer, kid string, opts PrivateKeyJWTOptions) ClientAuth {
	return ClientAuth{method: authPrivateKeyJWT, clientID: clientID, signer: signer, kid: kid, jwtOpts: opts}
}

// BearerToken authenticates with a bearer token of this resource server's
// own ("Authorization: Bearer " + token), for servers that protect their
// introspection endpoint that way (RFC 7662 §2.1 allows it). token must be
// an RFC 6750 token68.
func BearerToken(token string) ClientAuth {
	return ClientAuth{method: authBearer, secret: token}
}

// NoClientAuth sends no credentials, for an endpoint that needs none: Ory
// Hydra's admin port, a sidecar, an endpoint reached over a network that
// authenticates the caller itself. It is a choice to write down, never a
// default.
func NoClientAuth() ClientAuth {
	return ClientAuth{method: authNone}
}

// String names the method and the client id, never the secret or the key.
func (a ClientAuth) String() string {
	if a.clientID == "" {
		return methodNames[a.method]
	}
	return methodNames[a.method] + "(" + a.clientID + ")"
}

// GoString is String, so that %#v prints no secret either.
func (a ClientAuth) GoString() string { return "introspect.ClientAuth(" + a.String() + ")" }

// LogValue is String, so that a ClientAuth logged through slog shows no
// secret.
func (a ClientAuth) LogValue() slog.Value { return slog.StringValue(a.String()) }

// String, GoString and Format of a compiled clientAuth show no secret, so
// that printing a struct holding one (a *Client) shows none either.
func (a clientAuth) String() string {
	return ClientAuth{method: a.method, clientID: a.clientID}.String()
}

// GoString implements fmt.GoStringer.
func (a clientAuth) GoString() string { return a.String() }

// clientAuth is a ClientAuth checked and compiled by New.
type clientAuth struct {
	method authMethod
	// authorization is the Authorization header of Basic and bearer.
	authorization string
	clientID      string
	secret        string
	signer        crypto.Signer
	alg           jwa.SignatureAlgorithm
	headers       jws.Headers
	audience      string
	lifetime      time.Duration
}

// compile checks a and prepares what every request will need.
func (a ClientAuth) compile(endpoint string) (clientAuth, error) {
	ca := clientAuth{method: a.method, clientID: a.clientID, secret: a.secret}
	switch a.method {
	case authUnset:
		return ca, stderrors.New("introspect: Config.Auth is not set: the endpoint requires this server's credentials " +
			"(ClientSecretBasic, ClientSecretPost, PrivateKeyJWT or BearerToken), or say NoClientAuth")
	case authBasic:
		if a.clientID == "" {
			return ca, stderrors.New("introspect: ClientSecretBasic without a client id")
		}
		ca.authorization = "Basic " + base64.StdEncoding.EncodeToString(
			[]byte(url.QueryEscape(a.clientID)+":"+url.QueryEscape(a.secret)))
	case authPost:
		if a.clientID == "" {
			return ca, stderrors.New("introspect: ClientSecretPost without a client id")
		}
	case authBearer:
		if !bearer.Valid(a.secret) {
			return ca, stderrors.New("introspect: BearerToken is empty or not an RFC 6750 token68")
		}
		ca.authorization = "Bearer " + a.secret
	case authPrivateKeyJWT:
		if err := ca.compileJWT(a, endpoint); err != nil {
			return ca, fmt.Errorf("introspect: PrivateKeyJWT: %w", err)
		}
	}
	return ca, nil
}

func (ca *clientAuth) compileJWT(a ClientAuth, endpoint string) error {
	if a.clientID == "" {
		return stderrors.New("no client id")
	}
	if a.signer == nil {
		return stderrors.New("no signer")
	}
	o := a.jwtOpts
	if o.Lifetime < 0 || o.Lifetime > MaxAssertionLifetime {
		return fmt.Errorf("the assertion lifetime must be between 0 and %s", MaxAssertionLifetime)
	}
	ca.lifetime = orDefault(o.Lifetime, MaxAssertionLifetime)
	ca.audience = o.Audience
	if ca.audience == "" {
		ca.audience = endpoint
	}
	alg, err := algorithmFor(a.signer.Public(), o.Algorithm)
	if err != nil {
		return err
	}
	ca.signer, ca.alg = a.signer, alg
	ca.headers = jws.NewHeaders()
	if a.kid != "" {
		if err := ca.headers.Set(jws.KeyIDKey, a.kid); err != nil {
			return err
		}
	}
	return nil
}

// algorithmFor is the JWS algorithm for a public key: want if it suits the
// key, the key's own when want is empty.
func algorithmFor(pub crypto.PublicKey, want string) (jwa.SignatureAlgorithm, error) {
	var have jwa.SignatureAlgorithm
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return have, fmt.Errorf("an RSA key of %d bits; at least 2048 are needed", k.N.BitLen())
		}
		have = jwa.RS256()
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return have, stderrors.New("an ECDSA key not on P-256; ES256 needs one")
		}
		have = jwa.ES256()
	case ed25519.PublicKey:
		have = jwa.EdDSA()
	default:
		return have, fmt.Errorf("a %T key; RSA, ECDSA P-256 and Ed25519 keys can sign", pub)
	}
	if want != "" && want != have.String() {
		return have, fmt.Errorf("the algorithm %q does not suit the signer's key (%s does)", want, have)
	}
	return have, nil
}

// apply adds the credentials to a request's form, and returns its
// Authorization header ("" for none).
func (ca *clientAuth) apply(form url.Values, now time.Time) (string, error) {
	switch ca.method {
	case authPost:
		form.Set("client_id", ca.clientID)
		form.Set("client_secret", ca.secret)
	case authPrivateKeyJWT:
		assertion, err := ca.assertion(now)
		if err != nil {
			return "", err
		}
		form.Set("client_assertion_type", ClientAssertionType)
		form.Set("client_assertion", assertion)
	}
	return ca.authorization, nil
}

// assertionClaims are the claims of a client assertion (RFC 7523 §3).
type assertionClaims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	Jti string `json:"jti"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
}

// assertion signs a new client assertion. Its errors name neither the key
// nor the assertion.
func (ca *clientAuth) assertion(now time.Time) (string, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", fmt.Errorf("introspect: making the client assertion's jti: %w", err)
	}
	payload, err := json.Marshal(assertionClaims{
		Iss: ca.clientID,
		Sub: ca.clientID,
		Aud: ca.audience,
		Jti: base64.RawURLEncoding.EncodeToString(id[:]),
		Iat: now.Unix(),
		Exp: now.Add(ca.lifetime).Unix(),
	})
	if err != nil {
		return "", fmt.Errorf("introspect: encoding the client assertion: %w", err)
	}
	signed, err := jws.Sign(payload, jws.WithKey(ca.alg, ca.signer, jws.WithProtectedHeaders(ca.headers)))
	if err != nil {
		return "", fmt.Errorf("introspect: signing the client assertion: %w", err)
	}
	return string(signed), nil
}
