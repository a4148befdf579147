package jwt

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	stderrors "errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tollgate/tollgate/observe"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/internal/jose"
	"github.com/tollgate/tollgate/principal"
)

// Defaults for the zero fields of Config.
const (
	defaultJWTLeeway          = 30 * time.Second
	defaultJWTCacheSize       = 10_000
	defaultRefreshInterval    = 5 * time.Minute
	defaultMinRefreshInterval = time.Minute
	defaultMaxRefreshInterval = 24 * time.Hour
	defaultUnknownKIDCooldown = 30 * time.Second
	defaultStaleLimit         = 24 * time.Hour
	defaultFetchTimeout       = 10 * time.Second
	defaultMaxJWKSBytes       = 1 << 20
)

// MaxLeeway is the largest Config.Leeway NewVerifier accepts: the
// leeway the revocation stores keep their entries for past a token's exp
// (revocation.DefaultLeeway), so no token they revoked is admitted again
// inside the leeway.
const MaxLeeway = 5 * time.Minute

// maxJWTBytes bounds the token the verifier will decode. Longer tokens are
// refused before any base64 or JSON work.
const maxJWTBytes = 16 << 10

// Config configures a Verifier. Only Issuers is required; every other
// zero field takes the documented default, which is the safe choice.
type Config struct {
	// Issuers are the token issuers to trust. A token's "iss" claim picks
	// exactly one of them, compared byte for byte with each Issuer and its
	// Aliases, or else matched against the tenant templates in the order
	// listed, before any key is looked up: a token from an unlisted issuer
	// (or tenant) is refused without network access.
	Issuers []Issuer

	// Leeway is the clock skew allowed on "exp", "nbf" and "iat". Zero means
	// 30 seconds; a negative value means no leeway at all. It may not exceed
	// MaxLeeway: a revocation list keeps an entry for its token's lifetime
	// plus revocation.DefaultLeeway (5 minutes), so a larger leeway would
	// admit a revoked token again after the list has forgotten it.
	Leeway time.Duration

	// CacheSize bounds the verified-token cache, in entries. Zero means
	// 10,000; a negative value disables the cache, so that every request
	// verifies its token's signature.
	CacheSize int

	// HTTPClient fetches key sets and discovery metadata. Nil means a client of the verifier's own
	// (never http.DefaultClient, whose settings other code may change).
	// Requests are bounded by FetchTimeout whatever the client's settings.
	// The verifier uses a copy of the client whose redirects obey
	// JWKSRedirectHosts first and the client's own CheckRedirect, if any,
	// after; at most five redirects are followed.
	HTTPClient *http.Client

	// JWKSRedirectHosts are the hosts, besides the JWKS URL's own, that a
	// key-set fetch may follow a redirect to, each as "host" or "host:port"
	// (no port: the default port of the redirect's scheme). Nil, the
	// default, follows a redirect only to the JWKS URL's own origin: the
	// same scheme, host name (compared without case and without resolving
	// it, so "localhost" is not "127.0.0.1") and port. Whoever answers the
	// JWKS URL is trusted with the issuer's keys; an open redirect on that
	// host must not hand the trust to any other. Whatever this list holds, a
	// redirect must go to https (plain http only on a loopback host, as for
	// JWKSURL), and a JWKS URL on https is never redirected to plain http.
	JWKSRedirectHosts []string

	// RefreshInterval is how often a key set is fetched again when its
	// response carries no Cache-Control max-age. Zero means five minutes (as
	// Envoy's jwt_authn), so that a key the issuer withdraws stops verifying
	// within minutes even if its endpoint sends no caching headers.
	RefreshInterval time.Duration
	// MinRefreshInterval and MaxRefreshInterval bound a max-age sent by the
	// key-set endpoint (and RefreshInterval); a response marked no-store or
	// no-cache is fetched again after MinRefreshInterval, and so is a failed
	// fetch. Zero means one minute and 24 hours.
	MinRefreshInterval, MaxRefreshInterval time.Duration

	// UnknownKIDCooldown is the least time between two fetches of an
	// issuer's key set caused by tokens (an unknown "kid", or no usable key
	// set). Requests that arrive while such a fetch is in flight wait for it;
	// requests that arrive during the cooldown after it are refused at once.
	// The cooldown holds only while the issuer has a usable key set: without
	// one (never fetched, or stale) each token starts a fetch or joins the
	// one in flight, so the first token after an outage is served as soon as
	// the key set answers again. Zero means 30 seconds.
	UnknownKIDCooldown time.Duration

	// StaleLimit is how long a key set keeps verifying tokens past the time
	// it was due to be refreshed, while every fetch fails: a set fetched at
	// T and due again after R serves until T+R+StaleLimit. Past that, the
	// issuer's tokens, cached ones included, are refused as Unavailable (503)
	// until a fetch succeeds. Zero means 24 hours.
	StaleLimit time.Duration

	// FetchTimeout bounds each key-set fetch, connection to last byte, with
	// the metadata read before it for an issuer that discovers its key set.
	// Zero means 10 seconds.
	FetchTimeout time.Duration

	// MaxJWKSBytes bounds a key-set response body, and a discovery
	// document; a larger one is a failed fetch. Zero means 1 MiB.
	MaxJWKSBytes int64

	// Now is the clock for every time check: token lifetimes, the cache,
	// the stale limit and the cooldown. Nil means time.Now. The background
	// refresh is scheduled on real timers, not on Now.
	Now func() time.Time

	// OnRefreshError is called, from the fetching goroutine, each time a
	// key-set fetch fails. Nil means a warning through slog.Default().
	OnRefreshError func(issuer string, err error)

	// RequireKeysAtStart makes NewVerifier return an error wrapping
	// ErrKeysNotReady, naming each issuer (or tenant) whose key set it could
	// not load within FetchTimeout, instead of starting with that issuer's
	// tokens refused as Unavailable until a fetch succeeds. False, the
	// default, starts anyway; Ready then reports the issuer.
	RequireKeysAtStart bool

	// Observer receives an observe.JWKSFetch after every key-set fetch
	// (outcome, duration, key count, age and staleness of the set in use)
	// and an observe.JWKSRecovery when an issuer's set loads again after
	// failed fetches. Nil reports nothing. Per-request events (token-cache
	// hits, refusals) go to the observer of errors.WithObserver instead.
	Observer *observe.Observer
}

// Issuer is one trusted token issuer and the rules its tokens must meet.
//
// At most one key source may be given: JWKSURL (asymmetric keys fetched and
// refreshed), Keys (asymmetric keys fixed at start-up), KeySource (the keys
// of an issuer in this same process, read without HTTP), or HMACSecret (a
// shared secret). With none, the key set's URL is discovered: the "jwks_uri"
// of the issuer's OpenID Connect Discovery document
// (Issuer + "/.well-known/openid-configuration") or, where that is 404, of
// its RFC 8414 metadata, read again before each fetch of the key set, so a
// moved jwks_uri is followed. The metadata must name Issuer exactly, and
// its jwks_uri is held to the rules of JWKSURL. Keys never come from the
// token: its "jwk", "jku", "x5u" and "x5c" headers are refused, not
// followed.
type Issuer struct {
	// Issuer is the exact "iss" value of this issuer's tokens, or a
	// template of them holding TenantPlaceholder (see Tenants).
	Issuer string

	// JWKSURL is the issuer's JSON Web Key Set. It must be https, except on a
	// loopback host (127.0.0.1, ::1, localhost) for tests. Empty, with no
	// Keys or HMACSecret, means discovered. It may hold TenantPlaceholder
	// (see Tenants).
	JWKSURL string
	// Keys are public keys fixed at start-up, looked up by the token's "kid".
	Keys []StaticKey
	// KeySource gives public keys from inside the process (see KeySource),
	// for a service that verifies the tokens it mints itself. A change of
	// its keys is seen by the next token.
	KeySource KeySource
	// HMACSecret is a shared secret for HS256, HS384 or HS512. It must be at
	// least as long as the output of every HMAC hash in Algorithms (32, 48 or
	// 64 bytes): a shorter secret is refused at start-up.
	HMACSecret []byte

	// Audiences are the values accepted in the token's "aud": it must contain
	// at least one of them (or name a client of ClientIDs). Required unless
	// ClientIDs or AnyAudience is set, because a token minted for another
	// API of the same issuer must not be accepted here.
	Audiences []string
	// AnyAudience accepts a token whatever its "aud", or without one. Set it
	// only for an issuer that mints tokens for this API alone.
	AnyAudience bool

	// Algorithms are the accepted "alg" values, required: RS256, RS384,
	// RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, or, with
	// HMACSecret only, HS256, HS384, HS512. "none" is never accepted. A
	// token's alg must also suit the key its kid names (an RSA key verifies
	// only RS/PS algorithms, and only the JWK's own "alg" if it has one), so
	// an RSA public key can never be used as an HMAC secret.
	Algorithms []string

	// TokenType is the Principal.Type given to this issuer's tokens, e.g.
	// "customer". With TypeClaim it is the fallback.
	TokenType string
	// TypeClaim names a claim whose string value gives Principal.Type, mapped
	// through TypeValues if that is non-nil. A token without the claim, or
	// with a value TypeValues does not list, gets TokenType.
	TypeClaim string
	// TypeValues maps TypeClaim values to Principal.Type values.
	TypeValues map[string]string

	// RequiredTyp, if set, is the "typ" header every token must carry, e.g.
	// "at+jwt" for RFC 9068 access tokens. It is compared case-insensitively
	// and with or without the "application/" prefix. Setting it keeps this
	// issuer's ID tokens and other JWTs from being used as access tokens.
	RequiredTyp string

	// AcceptIDTokens admits this issuer's OpenID Connect ID tokens as
	// bearer tokens. By default a token that is plainly not an access token
	// is refused as invalid_token, whatever RequiredTyp says: one with a
	// claim only ID tokens carry ("nonce", "at_hash", "c_hash", "s_hash");
	// an "events" claim (logout and security event tokens, refused even
	// with AcceptIDTokens);
	// a "token_use" other than "access" (Cognito's "id"; when TypeClaim is
	// "token_use", only a value naming an ID, refresh or logout token); a
	// "token_type" or Keycloak "typ" claim naming an ID, refresh, offline or
	// logout token; or a "typ" header of a JWT that is never a bearer token
	// (id_token+jwt, logout+jwt, secevent+jwt, dpop+jwt,
	// token-introspection+jwt, oauth-authz-req+jwt, …). Set AcceptIDTokens
	// only for an issuer whose clients really call this API with ID tokens:
	// it lets the ID-token signs through, never refresh, logout or the
	// other kinds. An ID token without any of these signs (same issuer,
	// same audience, "typ": "JWT") cannot be told apart; RequiredTyp
	// "at+jwt", or an audience that is not a client ID, refuses it too.
	AcceptIDTokens bool

	// ScopeClaims are the claims scopes are read from; nil means
	// principal.DefaultScopeClaims. See principal.ParseScopes.
	ScopeClaims []string
	// ClientIDClaims are the claims Principal.ClientID is read from, the
	// first non-empty string one winning; nil means "client_id", "azp",
	// "cid", "appid" (Entra ID v1).
	ClientIDClaims []string

	// RoleClaims are the claim paths roles and groups are read from, into
	// Principal.Roles (never into its scopes): "roles" (Entra ID), "groups"
	// (Okta), "cognito:groups" (Cognito), "realm_access.roles" and
	// "resource_access.<client>.roles" (Keycloak),
	// "urn:zitadel:iam:org:project:roles" (ZITADEL),
	// "https://example.com/roles" (Auth0). Nil, the default, reads no roles.
	// See principal.ParseRoles for how a path with dots resolves and which
	// values are read; a role claim it cannot read refuses the token as
	// invalid_token.
	RoleClaims []string

	// Claims, if set, decodes each verified token's claims once into a type
	// of the application's own (DecodeClaims[T]), kept with the principal
	// in the cache and read with principal.ClaimsAs[T] on every request. A
	// decode error refuses the token as invalid_token. Nil decodes nothing.
	Claims ClaimsDecoder

	// ClientIDs are OAuth client IDs whose tokens this API accepts whatever
	// their "aud": a token passes the audience check if its "aud" names one
	// of Audiences, or if its client ID (the first of ClientIDClaims that is
	// a non-empty string) is one of these, compared exactly. It is for
	// issuers whose access tokens name the client rather than the API:
	// Cognito (no "aud", a "client_id"), Keycloak (default "aud" "account",
	// the client in "azp"), ZITADEL (the client ID in "aud", which Audiences
	// can list too), Entra ID v1 ("appid"). Every token issued to a listed
	// client is accepted, whatever API it was minted for: list only clients
	// that call this API alone. Audiences, ClientIDs or AnyAudience is
	// required.
	ClientIDs []string

	// Aliases are other exact spellings of Issuer that its tokens carry in
	// "iss", sharing its keys and rules: Google signs with "iss"
	// "https://accounts.google.com" and "accounts.google.com". The
	// principal's Issuer is the spelling the token carried.
	Aliases []string

	// Tenants, for an Issuer that holds TenantPlaceholder, are the tenant IDs
	// accepted; nil accepts any. Issuer may hold TenantPlaceholder once, in
	// its path (Entra ID: "https://login.microsoftonline.com/{tenantid}/v2.0"):
	// a token's "iss" matches if the placeholder stands for a tenant ID of 1
	// to 64 letters, digits and hyphens, and that ID must equal the token's
	// "tid" claim. If JWKSURL holds the placeholder too, or JWKSURL is empty
	// (keys by discovery, from each tenant's own metadata), each tenant has
	// its own key set, fetched from the start, and Tenants is required, so
	// that tokens naming unknown tenants never cause a fetch. Otherwise every
	// tenant shares the one key set (Entra ID's common keys).
	Tenants []string

	// MaxLifetime, if positive, is the longest a token may live: a token
	// whose "exp" is more than MaxLifetime (plus Config.Leeway) after its
	// "iat", or, without "iat", after now, is refused. Zero means no bound
	// beyond "exp" itself.
	MaxLifetime time.Duration
}

// StaticKey is a public key configured in code, for an issuer without a
// JWKS endpoint.
type StaticKey struct {
	// ID is matched against the token's "kid". A token without a kid is
	// verified by the only key suited to its alg, if there is exactly one.
	ID string
	// Algorithm, if set, is the only alg this key verifies.
	Algorithm string
	// Public is an *rsa.PublicKey (2048 to 16384 bits), an *ecdsa.PublicKey
	// (P-256, P-384 or P-521) or an ed25519.PublicKey. It is checked as
	// fetched keys are (see Verifier) and copied, so changing it later
	// changes nothing.
	Public crypto.PublicKey
}

var defaultClientIDClaims = []string{"client_id", "azp", "cid", "appid"}

// Verifier verifies signed JWT access tokens (compact JWS) from a fixed
// list of issuers, and turns them into principals. It implements middleware.Verifier.
//
// # What a token must be
//
// The token's "iss" picks the issuer; only then is a key looked up, by the
// pair (issuer, kid). The token is refused as InvalidToken unless it is a
// compact JWS (three base64url parts without padding or whitespace: the JSON
// serialization, JWE and unsecured tokens are refused), its header has an
// "alg" the issuer allows and that suits the key, no "crit" (no extension is
// understood, so RFC 7797's unencoded payload is refused with it), no
// embedded or remote key ("jwk", "jku", "x5u", "x5c"), no "zip" or "enc",
// and no nested JWT ("cty": "JWT"); its header and claims are JSON objects
// in valid UTF-8, without lone surrogate escapes and without a member name
// repeated at any depth (spelled alike or equal once unescaped); the
// signature verifies; "aud" names one of the issuer's audiences, or the
// token's client ID is one of its ClientIDs; for a tenant template, the
// tenant in "iss" is the token's "tid" (and one of Tenants); "typ"
// matches RequiredTyp when set; it is plainly an access token (see
// Issuer.AcceptIDTokens: no ID token, refresh token, logout token or other
// kind of JWT, told by its typ header and claims); "exp" is present and not
// past, "nbf" is not in the future and "iat" not in the
// future, each with Leeway; and, with MaxLifetime, "exp" is not further
// from "iat" (or now) than that. Which check failed is never told to the client
// (it is in the error's Err for logs), except that an expired token whose
// signature verified is refused as ExpiredToken, as RFC 6750 allows.
//
// # Keys
//
// A JWKS is fetched at start-up, then again in the background: after the
// response's Cache-Control max-age, bounded by MinRefreshInterval and
// MaxRefreshInterval (no-store and no-cache mean MinRefreshInterval), or
// after RefreshInterval (5 minutes). An issuer without a JWKSURL, Keys or
// HMACSecret has its discovery metadata read before each of these fetches,
// for the jwks_uri to fetch; metadata that cannot be read or trusted is a
// failed fetch, like a key set that cannot be. Requests read the keys
// through an atomic pointer to an immutable set, without locking. A token
// whose kid is not in the set (or that arrives while the issuer has no
// usable set) causes one fetch, shared by every request that needs it; those
// requests wait for it, at most FetchTimeout or until their own context
// ends. While the issuer has a usable key set, such fetches happen at most
// once per UnknownKIDCooldown; during the cooldown these tokens are refused
// at once, so a flood of made-up kids costs the issuer one fetch per
// cooldown and no request waits on a timer. Without a usable set no
// cooldown holds (one fetch at a time, shared), so service comes back with
// the first token after the key set does. Ready reports the issuers whose
// sets are not usable; Config.RequireKeysAtStart refuses to start without
// them. A fetch
// that fails (network error, timeout, non-200, a body over MaxJWKSBytes, bad
// JSON, a key of an unknown type or whose material is no key, no key left
// that can be trusted) leaves the last good set in place until StaleLimit
// past its refresh time; after that, and before the first success, the
// issuer's tokens are refused as Unavailable (503). A key removed from the
// set stops verifying at the next successful fetch. Redirects are followed
// only within the JWKS URL's origin, unless JWKSRedirectHosts says more.
//
// Every key is checked when it is loaded, static or fetched, for what
// would let someone other than the issuer sign: an RSA modulus must have
// 2048 to 16384 bits and be one no one can factor (not even, not a square,
// no prime factor below 2^14, no ROCA fingerprint of CVE-2017-15361), with
// an odd exponent from 3 to 2^31-1; an EC key must be
// a point of P-256, P-384 or P-521; an Ed25519 key must be canonically
// encoded and not one of the points of small order, under which forged
// signatures verify. A JWK carrying private key material is never trusted.
// A JWK verifies tokens only if its "use" is "sig" or absent and its
// "key_ops", if present, include "verify" (RFC 7517 §4.2, §4.3). A fetched
// key that fails any of this, or whose "use" and "key_ops" contradict each
// other, is dropped: it verifies nothing, it is logged at error level
// through slog.Default() with its kid, and the set's other keys go on
// working. A static key that fails is an error of NewVerifier.
//
// # Verified-token cache
//
// A token that verified is remembered, by its exact bytes, with the
// principal built from it, in a bounded cache of exactly CacheSize entries
// that evicts the tokens not read lately (see internal/tokencache). A later
// request with the same token is answered from memory, without allocating
// and in a few hundred nanoseconds at most, while the clock is
// before the token's "exp" (no leeway is added: past exp the token goes
// through full verification, which may still accept it within Leeway, and
// then refuses it), while the issuer's key set is the one that verified it
// (a set with other keys drops the issuer's entries; a refresh that returns
// the same keys keeps them), and within the stale limit. The principal is
// shared by every request that presents the token: treat it as read-only.
//
// A Verifier is safe for concurrent use. Close stops the background
// refresh; so does cancelling the context given to NewVerifier.
type Verifier struct {
	issuers   map[string]*jwtIssuer // by Issuer and Aliases, templates excepted
	templates []*jwtIssuer          // issuers whose Issuer holds TenantPlaceholder
	remotes   []*jwksSource
	cache     *tokenCache
	now       func() time.Time
	leeway    time.Duration
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOne  sync.Once
}

// jwtIssuer is an Issuer compiled for the request path.
type jwtIssuer struct {
	name           string
	algs           []*jwsAlgorithm
	audiences      []string
	anyAudience    bool
	requiredTyp    string
	kinds          jose.KindPolicy
	tokenType      string
	typeClaim      string
	typeValues     map[string]string
	scopeClaims    []string
	clientIDClaims []string
	roleClaims     []string
	claimsDecoder  ClaimsDecoder
	static         *keySet     // Keys or HMACSecret
	remote         *jwksSource // JWKSURL or discovery, shared by every tenant
	local          *localKeys  // KeySource
	idp
}

// NewVerifier checks cfg, fetches every issuer's JWKS once (after its
// discovery metadata, for an issuer that has no JWKSURL; waiting at
// most FetchTimeout; a failure is reported through OnRefreshError, not
// returned unless Config.RequireKeysAtStart is set, and the issuer's tokens
// are Unavailable until a fetch succeeds),
// and starts the background refresh, which runs until Close or until ctx is
// done. It returns an error, and starts nothing, if cfg is invalid.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	v := &Verifier{issuers: make(map[string]*jwtIssuer, len(c.Issuers)), now: c.Now, leeway: c.Leeway}
	for i, is := range c.Issuers {
		ji, err := compileIssuer(is)
		if err != nil {
			return nil, fmt.Errorf("jwt: Config.Issuers[%d] (%q): %w", i, is.Issuer, err)
		}
		if err := v.addIssuer(ji, is, &c); err != nil {
			return nil, fmt.Errorf("jwt: Config.Issuers[%d]: %w", i, err)
		}
	}
	if c.CacheSize > 0 {
		v.cache = newTokenCache(c.CacheSize)
	}
	ctx, v.cancel = context.WithCancel(ctx)
	for _, r := range v.remotes {
		r.start(ctx, &v.wg)
	}
	// Every fetch is started before any is waited for, so that start-up
	// takes one FetchTimeout at most, however many key sets (issuers,
	// tenants) there are.
	fetches := make([]*jwksFetch, len(v.remotes))
	for i, r := range v.remotes {
		fetches[i] = r.fetchNow(true)
	}
	for i, r := range v.remotes {
		_ = r.wait(ctx, fetches[i])
	}
	if err := v.keysProblem(v.now()); err != nil && c.RequireKeysAtStart {
		v.Close()
		return nil, fmt.Errorf("jwt: NewVerifier: %w", err)
	}
	for _, r := range v.remotes {
		v.wg.Add(1)
		go func() {
			defer v.wg.Done()
			r.refreshLoop(ctx)
		}()
	}
	return v, nil
}

// Close stops the background refresh and waits for it to end. Tokens keep
// being verified with the keys held at that moment, until the stale limit.
// Close is safe to call more than once.
func (v *Verifier) Close() error {
	v.closeOne.Do(func() {
		v.cancel()
		for _, r := range v.remotes {
			r.stop()
		}
		v.wg.Wait()
	})
	return nil
}

// Refresh fetches every issuer's JWKS now, ignoring the cooldown, and
// returns the failures joined. It is for operators who know a rotation just
// happened, and for tests, which use it instead of waiting for the timer.
func (v *Verifier) Refresh(ctx context.Context) error {
	var errs []error
	fetches := make([]*jwksFetch, len(v.remotes))
	for i, r := range v.remotes {
		fetches[i] = r.fetchNow(true)
	}
	for i, r := range v.remotes {
		if err := r.wait(ctx, fetches[i]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.issuer, err))
		}
	}
	return stderrors.Join(errs...)
}

// Verify returns the principal token stands for, or an *errors.Error of kind
// InvalidToken, ExpiredToken or Unavailable whose Err says why. A token seen
// before is answered from the cache without allocating.
func (v *Verifier) Verify(ctx context.Context, token string) (*principal.Principal, error) {
	if v.cache != nil {
		now := v.now()
		if e := v.cache.Get(token, now); e != nil {
			if p := v.fromCache(e, now); p != nil {
				return p, nil
			}
			v.cache.Remove(token)
		}
	}
	return v.verify(ctx, token, nil)
}

// Remembered answers a token from the cache only: the principal of a token
// verified before and still valid, or nil. It never verifies. It implements
// middleware.Remembering, which lets Authenticate ask the cache first.
func (v *Verifier) Remembered(token string) *principal.Principal {
	if v.cache == nil {
		return nil
	}
	now := v.now()
	if e := v.cache.Get(token, now); e != nil {
		return v.fromCache(e, now)
	}
	return nil
}

// fromCache returns the principal of an entry the cache served (so before
// its exp), or nil if the key set that verified it changed or went stale
// since.
func (v *Verifier) fromCache(e *cacheEntry, now time.Time) *principal.Principal {
	if l := e.Value.issuer.local; l != nil && !l.valid(e.Value.gen) {
		return nil
	}
	if r := e.Value.remote; r != nil {
		set := r.set.Load()
		if set == nil || set.gen != e.Value.gen || r.stale(now) {
			return nil
		}
	}
	return e.Value.principal
}

func (c *Config) withDefaults() (Config, error) {
	out := *c
	if len(out.Issuers) == 0 {
		return out, stderrors.New("jwt: Config.Issuers is empty: no token could ever be accepted")
	}
	durations := []struct {
		name string
		d    *time.Duration
		def  time.Duration
	}{
		{"RefreshInterval", &out.RefreshInterval, defaultRefreshInterval},
		{"MinRefreshInterval", &out.MinRefreshInterval, defaultMinRefreshInterval},
		{"MaxRefreshInterval", &out.MaxRefreshInterval, defaultMaxRefreshInterval},
		{"UnknownKIDCooldown", &out.UnknownKIDCooldown, defaultUnknownKIDCooldown},
		{"StaleLimit", &out.StaleLimit, defaultStaleLimit},
		{"FetchTimeout", &out.FetchTimeout, defaultFetchTimeout},
	}
	for _, d := range durations {
		if *d.d < 0 {
			return out, fmt.Errorf("jwt: Config.%s is negative (%v)", d.name, *d.d)
		}
		if *d.d == 0 {
			*d.d = d.def
		}
	}
	if out.MinRefreshInterval > out.MaxRefreshInterval {
		return out, fmt.Errorf("jwt: Config.MinRefreshInterval (%v) exceeds MaxRefreshInterval (%v)", out.MinRefreshInterval, out.MaxRefreshInterval)
	}
	switch {
	case out.Leeway == 0:
		out.Leeway = defaultJWTLeeway
	case out.Leeway < 0:
		out.Leeway = 0
	case out.Leeway > MaxLeeway:
		return out, fmt.Errorf("jwt: Config.Leeway (%v) exceeds MaxLeeway (%v)", out.Leeway, MaxLeeway)
	}
	if out.CacheSize == 0 {
		out.CacheSize = defaultJWTCacheSize
	}
	if out.MaxJWKSBytes < 0 {
		return out, fmt.Errorf("jwt: Config.MaxJWKSBytes is negative (%d)", out.MaxJWKSBytes)
	}
	if out.MaxJWKSBytes == 0 {
		out.MaxJWKSBytes = defaultMaxJWKSBytes
	}
	allowed, err := parseRedirectHosts(out.JWKSRedirectHosts)
	if err != nil {
		return out, err
	}
	client := &http.Client{}
	if out.HTTPClient != nil {
		*client = *out.HTTPClient
	}
	client.CheckRedirect = jwksRedirectPolicy(allowed, client.CheckRedirect)
	out.HTTPClient = client
	if out.Now == nil {
		out.Now = time.Now
	}
	if out.OnRefreshError == nil {
		out.OnRefreshError = func(issuer string, err error) {
			slog.Default().Warn("tollgate: JWKS fetch failed", "issuer", issuer, "error", err)
		}
	}
	return out, nil
}

func compileIssuer(is Issuer) (*jwtIssuer, error) {
	if is.Issuer == "" {
		return nil, stderrors.New("the Issuer field is empty")
	}
	sources := 0
	for _, set := range []bool{is.JWKSURL != "", len(is.Keys) > 0, len(is.HMACSecret) > 0, is.KeySource != nil} {
		if set {
			sources++
		}
	}
	if sources > 1 {
		return nil, stderrors.New("at most one of JWKSURL, Keys, KeySource and HMACSecret may be set")
	}
	if sources == 0 {
		if err := checkDiscoverable(is.Issuer); err != nil {
			return nil, err
		}
	}
	if len(is.Audiences) == 0 && len(is.ClientIDs) == 0 && !is.AnyAudience {
		return nil, stderrors.New("no Audiences: list this API's audiences or its clients' IDs (ClientIDs), or set AnyAudience to accept tokens minted for any API")
	}
	if slices.Contains(is.Audiences, "") {
		return nil, stderrors.New("an empty string in Audiences")
	}
	if len(is.Algorithms) == 0 {
		return nil, stderrors.New("no Algorithms: list the algorithms this issuer signs with")
	}
	ji := &jwtIssuer{
		name:           is.Issuer,
		audiences:      slices.Clone(is.Audiences),
		anyAudience:    is.AnyAudience,
		requiredTyp:    normalizeTyp(is.RequiredTyp),
		kinds:          jose.KindPolicy{AcceptIDTokens: is.AcceptIDTokens, TokenUseIsType: is.TypeClaim == "token_use"},
		tokenType:      is.TokenType,
		typeClaim:      is.TypeClaim,
		typeValues:     is.TypeValues,
		scopeClaims:    slices.Clone(is.ScopeClaims),
		clientIDClaims: slices.Clone(is.ClientIDClaims),
	}
	if ji.clientIDClaims == nil {
		ji.clientIDClaims = defaultClientIDClaims
	}
	if err := checkRoleClaims(is.RoleClaims); err != nil {
		return nil, err
	}
	ji.roleClaims, ji.claimsDecoder = slices.Clone(is.RoleClaims), is.Claims
	hmacKeys := len(is.HMACSecret) > 0
	for _, name := range is.Algorithms {
		a := jwsAlgorithms[name]
		if a == nil {
			return nil, fmt.Errorf("algorithm %q is not supported (never \"none\"; names are case-sensitive)", name)
		}
		if (a.family == familyHMAC) != hmacKeys {
			if hmacKeys {
				return nil, fmt.Errorf("algorithm %s needs an asymmetric key, but this issuer has an HMACSecret", name)
			}
			return nil, fmt.Errorf("algorithm %s needs HMACSecret; it is never allowed with public keys", name)
		}
		if hmacKeys && len(is.HMACSecret) < a.hash.Size() {
			return nil, fmt.Errorf("HMACSecret is %d bytes; %s needs at least %d", len(is.HMACSecret), name, a.hash.Size())
		}
		if !slices.Contains(ji.algs, a) {
			ji.algs = append(ji.algs, a)
		}
	}
	if err := compileIdentityProvider(is, ji); err != nil {
		return nil, err
	}
	switch {
	case sources == 0:
	case is.JWKSURL != "":
		if err := checkJWKSURL(withTenant(is.JWKSURL, "tenant")); err != nil {
			return nil, err
		}
	case is.KeySource != nil:
		ji.local = &localKeys{src: is.KeySource, algs: ji.algs}
	case hmacKeys:
		ji.static = &keySet{gen: nextKeySetGen(), keys: []*verifyKey{{secret: slices.Clone(is.HMACSecret)}}}
	default:
		set := &keySet{gen: nextKeySetGen()}
		for i, sk := range is.Keys {
			k, err := staticKey(sk)
			if err != nil {
				return nil, fmt.Errorf("static key %d (%q): %w", i, sk.ID, err)
			}
			if k.alg != "" && !slices.ContainsFunc(ji.algs, func(a *jwsAlgorithm) bool { return a.name == k.alg }) {
				return nil, fmt.Errorf("static key %d (%q): its Algorithm %s is not in Algorithms", i, sk.ID, k.alg)
			}
			if !slices.ContainsFunc(ji.algs, k.suits) {
				return nil, fmt.Errorf("static key %d (%q): no algorithm in Algorithms suits this key", i, sk.ID)
			}
			if k.kid != "" && set.byID(k.kid) != nil {
				return nil, fmt.Errorf("static key %d: key ID %q is used twice", i, sk.ID)
			}
			set.keys = append(set.keys, k)
		}
		ji.static = set
	}
	return ji, nil
}

// staticKey checks sk as every fetched key is checked, logs a refusal with
// the key's ID, and keeps a copy of the key, so that the caller changing its
// value later cannot change what verifies.
func staticKey(sk StaticKey) (*verifyKey, error) {
	k := &verifyKey{kid: sk.ID, alg: sk.Algorithm}
	switch pub := sk.Public.(type) {
	case *rsa.PublicKey:
		if pub != nil {
			k.rsa = &rsa.PublicKey{N: pub.N, E: pub.E}
			if pub.N != nil {
				k.rsa.N = new(big.Int).Set(pub.N)
			}
		}
	case *ecdsa.PublicKey:
		k.ec = pub
	case ed25519.PublicKey:
		k.ed = slices.Clone(pub)
	case nil:
	default:
		return nil, fmt.Errorf("the Public key is a %T; want *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey", sk.Public)
	}
	if k.rsa == nil && k.ec == nil && k.ed == nil {
		return nil, stderrors.New("no Public key")
	}
	if err := k.check(); err != nil {
		slog.Default().Error("tollgate: static key refused", "kid", sk.ID, "reason", err)
		return nil, err
	}
	if k.ec != nil {
		// check made sure Bytes succeeds; parse it back into a key of our own.
		b, _ := k.ec.Bytes()
		ec, err := ecdsa.ParseUncompressedPublicKey(k.ec.Curve, b)
		if err != nil {
			return nil, err
		}
		k.ec = ec
	}
	return k, nil
}

func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("JWKSURL: %w", err)
	}
	if u.Host == "" {
		return fmt.Errorf("JWKSURL %q has no host", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return fmt.Errorf("JWKSURL %q must be https (plain http only on a loopback host), since whoever can alter the key set can mint tokens", raw)
}

// maxJWKSRedirects bounds the redirects a key-set fetch follows.
const maxJWKSRedirects = 5

// redirectHost is a host a key-set fetch may be redirected to. An empty
// port stands for the default port of the redirect's scheme.
type redirectHost struct{ host, port string }

func parseRedirectHosts(hosts []string) ([]redirectHost, error) {
	var out []redirectHost
	for _, h := range hosts {
		u, err := url.Parse("//" + h)
		if err != nil || h == "" || u.Host != h || u.User != nil || u.Path != "" || u.Hostname() == "" {
			return nil, fmt.Errorf("jwt: Config.JWKSRedirectHosts: %q is not a host or host:port", h)
		}
		out = append(out, redirectHost{host: strings.ToLower(u.Hostname()), port: u.Port()})
	}
	return out, nil
}

// jwksRedirectPolicy returns the CheckRedirect of the key-set client: at
// most maxJWKSRedirects, each to a URL checkJWKSURL accepts, never from
// https to http, and each to the first request's origin or to one of
// allowed. next, the caller's own CheckRedirect, then has its say.
func jwksRedirectPolicy(allowed []redirectHost, next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if err := checkJWKSRedirect(req, via, allowed); err != nil {
			return err
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
}

// checkJWKSRedirect decides whether a key-set fetch follows a redirect to
// req, after the requests via.
func checkJWKSRedirect(req *http.Request, via []*http.Request, allowed []redirectHost) error {
	if len(via) >= maxJWKSRedirects {
		return fmt.Errorf("more than %d redirects", maxJWKSRedirects)
	}
	if err := checkJWKSURL(req.URL.String()); err != nil {
		return err
	}
	first := via[0].URL
	if first.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("redirect from https to %s refused: the key set must stay on https", req.URL.Scheme)
	}
	host, port := strings.ToLower(req.URL.Hostname()), effectivePort(req.URL)
	if req.URL.Scheme == first.Scheme && host == strings.ToLower(first.Hostname()) && port == effectivePort(first) {
		return nil
	}
	for _, a := range allowed {
		if a.host == host && (a.port == port || a.port == "" && port == defaultPort(req.URL.Scheme)) {
			return nil
		}
	}
	return fmt.Errorf("redirect to %s refused: it leaves the JWKS URL's origin and is not in Config.JWKSRedirectHosts", req.URL.Host)
}

func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	return defaultPort(u.Scheme)
}

func defaultPort(scheme string) string {
	if scheme == "http" {
		return "80"
	}
	return "443"
}

func normalizeTyp(typ string) string {
	typ = strings.ToLower(typ)
	return strings.TrimPrefix(typ, "application/")
}

// The messages the client sees. Which check failed is in Err, never here.
const (
	msgInvalidToken = "The access token is invalid"
	msgExpiredToken = "The access token expired"
	msgUnavailable  = "The service is temporarily unavailable"
)

func refuseInvalid(cause error) error {
	return &tgerrors.Error{Kind: tgerrors.InvalidToken, Message: msgInvalidToken, Err: cause}
}

func refuseExpired(cause error) error {
	return &tgerrors.Error{Kind: tgerrors.ExpiredToken, Message: msgExpiredToken, Err: cause}
}

func refuseUnavailable(cause error) error {
	return &tgerrors.Error{Kind: tgerrors.Unavailable, Message: msgUnavailable, Err: cause}
}
