package introspect

import (
	"context"
	"crypto/sha256"
	stderrors "errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/observe"

	lru "github.com/hashicorp/golang-lru/v2"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/internal/bearer"
	"github.com/tollgate/tollgate/internal/jose"
	"github.com/tollgate/tollgate/internal/ratelog"
	"github.com/tollgate/tollgate/principal"
)

// Defaults for the zero fields of Config.
const (
	DefaultTimeout          = 5 * time.Second
	DefaultMaxResponseBytes = 64 << 10
	DefaultMaxTokenBytes    = 8 << 10
	DefaultCacheSize        = 10_000
	DefaultMaxTTL           = 5 * time.Minute
	DefaultNegativeTTL      = 10 * time.Second
	// DefaultMaxConcurrentCalls is the cap on introspection calls in
	// flight at once. Calls in flight are new tokens a second times the
	// endpoint's latency, so 64 serve 3,200 new tokens a second at 20 ms a
	// call (cached tokens make no call), while an endpoint that hangs
	// holds no more than 64 goroutines and connections.
	DefaultMaxConcurrentCalls = 64
)

// Config describes the introspection endpoint and how answers are cached.
// The zero value of every field but Endpoint and Auth is a sensible
// default.
type Config struct {
	// Endpoint is the introspection endpoint's absolute URL. It must be
	// https, unless its host is a loopback address or AllowHTTP is set.
	Endpoint string
	// AllowHTTP permits a plain http:// Endpoint on a non-loopback host,
	// for a network the operator trusts (a sidecar, a service mesh that
	// encrypts). Tokens and credentials then travel in clear text.
	AllowHTTP bool

	// Auth is how this resource server authenticates itself to the
	// endpoint, required: ClientSecretBasic (what RFC 7662 servers expect
	// by default), ClientSecretPost, PrivateKeyJWT, BearerToken, or
	// NoClientAuth for an endpoint that asks for nothing. New refuses the
	// zero ClientAuth rather than send an unauthenticated request by
	// accident.
	Auth ClientAuth

	// HTTPClient sends the requests. Nil means a client of the package's
	// own that follows no redirects and keeps up to MaxConcurrentCalls
	// connections to the endpoint, open or idle, so that calls reuse them
	// rather than each opening one (its transport is a clone of
	// http.DefaultTransport with MaxConnsPerHost and MaxIdleConnsPerHost
	// set to MaxConcurrentCalls; if http.DefaultTransport has been replaced
	// by a RoundTripper that is not an *http.Transport, that one is used
	// as is).
	//
	// A client you supply is used as is. MaxConcurrentCalls still caps the
	// calls, but connection reuse is up to its Transport: http.DefaultTransport
	// keeps only 2 idle connections per host, so under load most calls
	// would open a new connection; set its MaxIdleConnsPerHost to
	// MaxConcurrentCalls. Its Timeout, if any, applies on top of Timeout.
	HTTPClient *http.Client
	// Timeout bounds each introspection call. Zero means DefaultTimeout
	// (5s).
	Timeout time.Duration
	// MaxConcurrentCalls caps the introspection calls in flight at once,
	// over all tokens. Concurrent misses of one token share one call and
	// count once. A miss that would start a call beyond the cap is refused
	// at once with unavailable (503), never queued: an endpoint that hangs
	// then holds at most this many calls, goroutines and connections, not
	// one per token presented. Zero means DefaultMaxConcurrentCalls (64).
	// There is no unlimited setting: raise it if new tokens a second times
	// the endpoint's latency exceeds it.
	MaxConcurrentCalls int
	// MaxResponseBytes caps the response body; a larger one is refused as
	// unavailable. Zero means DefaultMaxResponseBytes (64 KiB).
	MaxResponseBytes int64
	// MaxTokenBytes caps the token; a longer one is refused as
	// invalid_token without a call. Zero means DefaultMaxTokenBytes
	// (8 KiB).
	MaxTokenBytes int
	// TokenTypeHint is sent as token_type_hint when set, e.g.
	// "access_token".
	TokenTypeHint string

	// TokenType is the Principal.Type of every token this client accepts,
	// e.g. "merchant". With TypeClaim it is the fallback.
	TokenType string
	// TypeClaim names a top-level member of the answer whose string value
	// gives Principal.Type, mapped through TypeValues if that is non-nil;
	// an answer without it, or with a value TypeValues does not list, gets
	// TokenType (as jwt.Issuer.TypeClaim does for JWTs). E.g. a claim a
	// Keycloak protocol mapper or a ZITADEL action adds to the token, or
	// "client_id" with TypeValues naming the clients of each type (Ory
	// Hydra keeps its custom claims under "ext", which is not read). It
	// only names the type of an access token: an answer for a refresh, ID
	// or logout token is refused whatever it maps to (see AcceptIDTokens).
	// With "token_use" (Cognito-style type names), only a token_use naming
	// an ID, refresh or logout token is refused, not every value but an
	// access token's.
	TypeClaim string
	// TypeValues maps TypeClaim values to Principal.Type values. It is
	// copied by New.
	TypeValues map[string]string
	// AcceptIDTokens admits answers for OpenID Connect ID tokens. By
	// default an active answer for a token that is plainly not an access
	// token is refused as invalid_token: a "token_use" other than an access
	// token's (Hydra's "refresh_token", "id"), a "token_type" or Keycloak
	// "typ" naming a refresh, offline, ID or logout token
	// ("refresh_token", RFC 8693's
	// urn:ietf:params:oauth:token-type:refresh_token, "Refresh"), or a
	// claim only ID tokens carry ("nonce", "at_hash", "c_hash", "s_hash").
	// Set it only if this API's clients really call it with ID tokens;
	// refresh and logout tokens are refused whatever it says.
	AcceptIDTokens bool
	// Audiences, when set, are the audiences this resource server answers
	// to: an active token's aud must contain one of them, and an answer
	// without aud is refused too, unless AllowMissingAudience is set.
	Audiences []string
	// AllowMissingAudience admits an active answer that has no "aud" at all
	// (or "aud": null) although Audiences is set. Some servers leave aud
	// out of the answer: ZITADEL, Ory Hydra for a token granted no
	// audience, Keycloak without an audience mapper. An answer whose aud is
	// present and names none of Audiences, an empty array included, is
	// refused whatever this says. It has no effect without Audiences.
	// Default false: refuse.
	AllowMissingAudience bool
	// ScopeClaims are the members the scopes are read from, in order (see
	// principal.ParseScopes). Empty means principal.DefaultScopeClaims.
	ScopeClaims []string
	// RoleClaims are the claim paths roles and groups are read from, into
	// Principal.Roles, never its scopes (see principal.ParseRoles). Empty,
	// the default, reads no roles. A role claim ParseRoles cannot read
	// makes the answer malformed, as a member of the wrong type does.
	RoleClaims []string

	// CacheSize bounds each of the two caches, of active and of refused
	// answers. Zero means DefaultCacheSize (10,000).
	CacheSize int
	// MaxTTL bounds how long an active answer is cached; it is also never
	// cached past the token's exp. Zero means DefaultMaxTTL (5m).
	MaxTTL time.Duration
	// NegativeTTL is how long a refusal (inactive, expired, wrong audience)
	// is cached. Zero means DefaultNegativeTTL (10s); a negative value
	// disables negative caching.
	NegativeTTL time.Duration

	// Now is the clock. Nil means time.Now.
	Now func() time.Time

	// Logger receives the client's outage lines: a call that failed (the
	// endpoint unreachable, timing out, answering anything but 200, or
	// garbage) at Warn, a token refused at MaxConcurrentCalls at Warn, and
	// the first usable answer after a failure at Info. Each of the three is
	// written at most once per 10 seconds, with the count of its lines
	// dropped since the last one written, so an outage under load does not
	// write a line per token. No line carries a token. Nil means
	// slog.Default().
	Logger *slog.Logger

	// Observer receives one observe.IntrospectionCall per lookup: a cache
	// hit, or a call with its outcome and latency. Nil reports nothing.
	Observer *observe.Observer
}

// Client is an RFC 7662 introspection client with a cache; it implements
// middleware.Verifier. It is safe for concurrent use.
type Client struct {
	endpoint      string
	auth          clientAuth
	tokenTypeHint string
	httpClient    *http.Client
	timeout       time.Duration
	maxResponse   int64
	maxToken      int
	tokenType     string
	typeClaim     string
	typeValues    map[string]string
	kinds         jose.KindPolicy
	audiences     []string
	allowNoAud    bool
	scopeClaims   []string
	roleClaims    []string
	maxTTL        time.Duration
	negativeTTL   time.Duration
	maxCalls      int
	now           func() time.Time
	observer      *observe.Observer

	logger *slog.Logger // nil: slog.Default() when the line is written
	logs   *ratelog.Limiter
	// logEndpoint is the endpoint as logged: without a password the URL
	// may hold.
	logEndpoint string
	// failing is set by a failed call and cleared, with a log line, by the
	// next usable answer.
	failing atomic.Bool
	// answered is the Now().UnixNano() of the last usable answer, for Ready.
	answered atomic.Int64

	active  *lru.Cache[tokenKey, activeEntry]
	refused *lru.Cache[tokenKey, refusedEntry]

	mu sync.Mutex
	// inflight holds the calls in flight, one per token; its length is
	// what MaxConcurrentCalls caps.
	inflight map[tokenKey]*call
	// waiting counts requests waiting on an introspection call; tests use
	// it to release the endpoint only once every request has joined.
	waiting atomic.Int64
}

type tokenKey [sha256.Size]byte

type activeEntry struct {
	p       *principal.Principal
	expires time.Time
}

type refusedEntry struct {
	kind    tgerrors.Kind
	cause   error
	expires time.Time
}

type call struct {
	done chan struct{}
	p    *principal.Principal
	err  *tgerrors.Error
}

// New validates cfg and returns a Client. It does not contact the endpoint.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("introspect: Endpoint %q is not an absolute URL", cfg.Endpoint)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !cfg.AllowHTTP && !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("introspect: Endpoint %q is not https (RFC 7662 §4); set AllowHTTP to permit it", cfg.Endpoint)
		}
	default:
		return nil, fmt.Errorf("introspect: Endpoint %q is neither https nor http", cfg.Endpoint)
	}
	auth, err := cfg.Auth.compile(u.String())
	if err != nil {
		return nil, err
	}
	if cfg.Timeout < 0 || cfg.MaxResponseBytes < 0 || cfg.MaxTokenBytes < 0 || cfg.CacheSize < 0 || cfg.MaxTTL < 0 || cfg.MaxConcurrentCalls < 0 {
		return nil, stderrors.New("introspect: Timeout, MaxResponseBytes, MaxTokenBytes, CacheSize, MaxTTL and MaxConcurrentCalls must not be negative")
	}

	c := &Client{
		endpoint:      u.String(),
		auth:          auth,
		tokenTypeHint: cfg.TokenTypeHint,
		httpClient:    cfg.HTTPClient,
		timeout:       orDefault(cfg.Timeout, DefaultTimeout),
		maxResponse:   orDefault(cfg.MaxResponseBytes, DefaultMaxResponseBytes),
		maxToken:      orDefault(cfg.MaxTokenBytes, DefaultMaxTokenBytes),
		tokenType:     cfg.TokenType,
		typeClaim:     cfg.TypeClaim,
		typeValues:    maps.Clone(cfg.TypeValues),
		kinds:         jose.KindPolicy{AcceptIDTokens: cfg.AcceptIDTokens, TokenUseIsType: cfg.TypeClaim == "token_use"},
		audiences:     append([]string(nil), cfg.Audiences...),
		allowNoAud:    cfg.AllowMissingAudience,
		scopeClaims:   append([]string(nil), cfg.ScopeClaims...),
		roleClaims:    append([]string(nil), cfg.RoleClaims...),
		maxTTL:        orDefault(cfg.MaxTTL, DefaultMaxTTL),
		negativeTTL:   orDefault(cfg.NegativeTTL, DefaultNegativeTTL),
		maxCalls:      orDefault(cfg.MaxConcurrentCalls, DefaultMaxConcurrentCalls),
		now:           cfg.Now,
		logger:        cfg.Logger,
		observer:      cfg.Observer,
		logEndpoint:   u.Redacted(),
		inflight:      make(map[tokenKey]*call),
	}
	if c.httpClient == nil {
		c.httpClient = defaultHTTPClient(c.maxCalls)
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.logs = ratelog.New(ratelog.DefaultInterval, c.now)
	size := orDefault(cfg.CacheSize, DefaultCacheSize)
	// lru.New fails only on a non-positive size, excluded above.
	c.active, _ = lru.New[tokenKey, activeEntry](size)
	c.refused, _ = lru.New[tokenKey, refusedEntry](size)
	return c, nil
}

// defaultHTTPClient is the client used when Config.HTTPClient is nil: no
// redirects (a redirected POST would lose its body or carry the credentials
// elsewhere), and as many connections to the endpoint, open or idle, as
// there may be calls, so that each call finds one to reuse.
func defaultHTTPClient(maxCalls int) *http.Client {
	c := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t := dt.Clone()
		t.MaxConnsPerHost = maxCalls
		t.MaxIdleConnsPerHost = maxCalls
		if t.MaxIdleConns != 0 && t.MaxIdleConns < maxCalls {
			t.MaxIdleConns = maxCalls
		}
		c.Transport = t
	}
	return c
}

func orDefault[T int | int64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Verify returns the principal token stands for, from the cache or from the
// endpoint. It refuses with an *errors.Error: invalid_token for a malformed,
// inactive or foreign token, expired_token for an expired one, unavailable
// when the endpoint could not give a usable answer, when MaxConcurrentCalls
// calls are already in flight, or when ctx ended first.
func (c *Client) Verify(ctx context.Context, token string) (*principal.Principal, error) {
	if !c.wellFormed(token) || jose.Classify(token) == jose.NotCanonical {
		return nil, tgerrors.New(tgerrors.InvalidToken, msgInvalid)
	}
	key := hashToken(token)
	if p, err, ok := c.cached(key); ok {
		c.observeCached(ctx, err)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
	return c.join(ctx, key, token)
}

// wellFormed reports whether token is a non-empty RFC 6750 token68 of at
// most maxToken bytes: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" /
// "/" ) *"=".
func (c *Client) wellFormed(token string) bool {
	return len(token) <= c.maxToken && bearer.Valid(token)
}

// hashToken is the cache's key for token (bearer.Sum256: no copy).
func hashToken(token string) tokenKey { return bearer.Sum256(token) }

// cached returns the fresh cached answer for key, if any.
func (c *Client) cached(key tokenKey) (*principal.Principal, *tgerrors.Error, bool) {
	if e, ok := c.active.Get(key); ok {
		if c.now().Before(e.expires) {
			return e.p, nil, true
		}
		c.active.Remove(key)
	}
	if c.negativeTTL > 0 {
		if e, ok := c.refused.Get(key); ok {
			if c.now().Before(e.expires) {
				return nil, refusal(e.kind, e.cause), true
			}
			c.refused.Remove(key)
		}
	}
	return nil, nil, false
}

// join waits for the introspection of token, starting it unless a call for
// the same token is already in flight. A call that would go beyond
// MaxConcurrentCalls is refused at once.
func (c *Client) join(ctx context.Context, key tokenKey, token string) (*principal.Principal, error) {
	c.mu.Lock()
	cl, ok := c.inflight[key]
	if !ok {
		// A call may have finished between the cache miss and the lock.
		if p, err, ok := c.cached(key); ok {
			c.mu.Unlock()
			if err != nil {
				return nil, err
			}
			return p, nil
		}
		if len(c.inflight) >= c.maxCalls {
			c.mu.Unlock()
			c.logs.Log(ctx, c.logger, slog.LevelWarn, "introspect.saturated",
				"tollgate: introspection calls at their cap; refusing new tokens until one ends",
				slog.Int("max_concurrent_calls", c.maxCalls))
			return nil, refusal(tgerrors.Unavailable, errSaturated)
		}
		cl = &call{done: make(chan struct{})}
		c.inflight[key] = cl
		go c.run(ctx, key, token, cl)
	}
	c.waiting.Add(1)
	c.mu.Unlock()
	defer c.waiting.Add(-1)

	select {
	case <-cl.done:
	case <-ctx.Done():
		return nil, tgerrors.Wrap(tgerrors.Unavailable, msgUnavailable, ctx.Err())
	}
	if cl.err != nil {
		// A fresh copy: the caller may annotate its error.
		e := *cl.err
		return nil, &e
	}
	return cl.p, nil
}

// run performs one introspection call, caches its answer and hands it to
// every waiter. It keeps the values of the first request's ctx (for tracing)
// but not its cancellation, so that one waiter giving up does not fail the
// others; Timeout bounds it.
func (c *Client) run(ctx context.Context, key tokenKey, token string, cl *call) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	defer cancel()
	start := c.now()
	p, err := c.introspect(ctx, token)
	now := c.now()
	c.observeCall(ctx, err, now.Sub(start))
	switch {
	case err == nil:
		expires := now.Add(c.maxTTL)
		if !p.ExpiresAt().IsZero() && p.ExpiresAt().Before(expires) {
			expires = p.ExpiresAt()
		}
		c.active.Add(key, activeEntry{p: p, expires: expires})
	case err.Kind != tgerrors.Unavailable && c.negativeTTL > 0:
		c.refused.Add(key, refusedEntry{kind: err.Kind, cause: err.Err, expires: now.Add(c.negativeTTL)})
	}
	cl.p, cl.err = p, err
	if err == nil || err.Kind != tgerrors.Unavailable {
		c.answered.Store(now.UnixNano())
	}
	c.mu.Lock()
	delete(c.inflight, key)
	c.mu.Unlock()
	// Before the waiters are answered, so that the line of a request's
	// failure is written when its refusal is; a line is written at most once
	// per interval, and a dropped one costs no more than a map lookup.
	c.logOutcome(ctx, err)
	close(cl.done)
}

// logOutcome logs a failed call, and the first usable answer after one.
func (c *Client) logOutcome(ctx context.Context, err *tgerrors.Error) {
	if err != nil && err.Kind == tgerrors.Unavailable {
		c.failing.Store(true)
		attrs := []slog.Attr{slog.String("endpoint", c.logEndpoint)}
		if err.Err != nil {
			// A cause names the endpoint and what went wrong with it,
			// never the token: that travels in the request body.
			attrs = append(attrs, slog.String("cause", err.Err.Error()))
		}
		c.logs.Log(ctx, c.logger, slog.LevelWarn, "introspect.failed", "tollgate: introspection failed", attrs...)
		return
	}
	if c.failing.CompareAndSwap(true, false) {
		c.logs.Log(ctx, c.logger, slog.LevelInfo, "introspect.recovered",
			"tollgate: introspection endpoint answering again", slog.String("endpoint", c.logEndpoint))
	}
}

// Client-facing messages: fixed and generic; causes go in Err.
const (
	msgInvalid     = "The access token is invalid"
	msgExpired     = "The access token expired"
	msgUnavailable = "The service is temporarily unavailable"
)

func refusal(kind tgerrors.Kind, cause error) *tgerrors.Error {
	msg := msgInvalid
	switch kind {
	case tgerrors.ExpiredToken:
		msg = msgExpired
	case tgerrors.Unavailable:
		msg = msgUnavailable
	}
	return tgerrors.Wrap(kind, msg, cause)
}

// errInactive is the cause of a refusal of a token the endpoint called
// inactive.
var errInactive = stderrors.New("introspect: the token is not active")

// errSaturated is the cause of a refusal of a new token while
// MaxConcurrentCalls calls are in flight.
var errSaturated = stderrors.New("introspect: MaxConcurrentCalls introspection calls are already in flight")

// buildRequest is the RFC 7662 §2.1 request for token, with this server's
// credentials (Config.Auth).
func (c *Client) buildRequest(ctx context.Context, token string) (*http.Request, error) {
	form := url.Values{"token": {token}}
	if c.tokenTypeHint != "" {
		form.Set("token_type_hint", c.tokenTypeHint)
	}
	authorization, err := c.auth.apply(form, c.now())
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return req, nil
}
