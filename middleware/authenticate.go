package middleware

import (
	"context"
	"net/http"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/internal/bearer"
	"github.com/tollgate/tollgate/internal/reqstate"
	"github.com/tollgate/tollgate/observe"
	"github.com/tollgate/tollgate/principal"
)

// RevocationChecker is consulted on every authenticated request, after the
// token was verified (cache hits included), so that a revoked token is
// refused from the next request on. The revocation package implements it in
// memory and on Redis. An error fails closed: the request is refused with
// unavailable (503).
type RevocationChecker interface {
	Revoked(ctx context.Context, token string, p *principal.Principal) (bool, error)
}

// Refusal describes one refused request for the refusal hook. It never
// carries the token.
type Refusal struct {
	// Kind is why the request was refused.
	Kind tgerrors.Kind
	// Issuer and ClientID identify the caller when the token was verified
	// before the refusal (a revoked token, a revocation check that failed);
	// they are empty when the token itself was refused.
	Issuer, ClientID string
	// Err is the internal cause, for the log.
	Err error
}

// Option configures Authenticate.
type Option func(*authenticator)

// WithMaxTokenBytes caps the token's length (default DefaultMaxTokenBytes).
// Longer tokens are refused as invalid_token before any parsing.
func WithMaxTokenBytes(n int) Option {
	return func(a *authenticator) { a.maxTokenBytes = n }
}

// FromQuery also accepts the token from the query parameter name
// (RFC 6750 §2.3 uses "access_token"). Off by default: tokens in URLs end up
// in logs and browser history. Parsing the query costs allocations on every
// request. The response to a request whose token came from the query is
// sent with Cache-Control: private (RFC 6750 §2.3), whatever the handler
// sets, unless it is no-store; see Authenticate.
func FromQuery(name string) Option {
	return func(a *authenticator) { a.queryParam = name }
}

// FromCookie also accepts the token from the cookie name. Off by default;
// a cookie is sent by browsers on cross-site requests, so enable it only
// with CSRF protection in place. Its responses are kept private as a query
// token's are: a shared cache pays no attention to cookies.
func FromCookie(name string) Option {
	return func(a *authenticator) { a.cookieName = name }
}

// WithRevocation consults c on every request after verification.
func WithRevocation(c RevocationChecker) Option {
	return func(a *authenticator) { a.revocation = c }
}

// OnRefusal replaces the refusal hook. The default logs refusals through
// slog.Default: unavailable at Warn, every other kind at Info, with kind,
// issuer and client id, never the token. It writes at most one line per kind
// every 10 seconds for each Authenticate, and the next line of a kind says
// how many were dropped ("dropped"), so a flood of bad tokens cannot flood
// the log nor hide an outage. A nil fn reports nothing.
func OnRefusal(fn func(r *http.Request, ref Refusal)) Option {
	return func(a *authenticator) { a.onRefusal = fn }
}

// Remembering is implemented by a Verifier that keeps, byte for byte, the
// tokens it accepted (jwt.Verifier's cache). A token it remembers passed the
// charset check when it was first seen, so Authenticate asks it first and
// skips scanning the token again: on a long JWT that scan is most of the
// cost of a repeated request.
//
// Remembered must answer from memory only, never verify, and return nil for
// a token it does not hold or whose expiry has passed. The token must be
// compared byte for byte.
type Remembering interface {
	Remembered(token string) *principal.Principal
}

type authenticator struct {
	verifier      Verifier
	remembering   Remembering
	maxTokenBytes int
	queryParam    string
	cookieName    string
	revocation    RevocationChecker
	onRefusal     func(*http.Request, Refusal)
	headerName    string
	extractor     Extractor
	skip          func(*http.Request) bool
	preflight     http.Handler
	optional      bool
}

// Authenticate returns a middleware that admits a request only with a bearer
// token v accepts, and puts the caller's *principal.Principal in the request
// context for later layers and the handler (principal.From).
//
// The token is read from the Authorization header (scheme matched without
// regard to case, exactly one header), and from the query or a cookie only
// when FromQuery or FromCookie enable them. What is refused, in the format
// chosen by errors.Use, without reaching the handler:
//
//   - no bearer credential (no header, or another scheme): missing_token 401,
//     whose challenge carries no error code (RFC 6750 §3.1);
//   - several Authorization headers, several credentials, or "Bearer" with
//     no token: invalid_request 400, whose challenge carries
//     error="invalid_request" (RFC 6750 §3.1);
//   - a token longer than the cap or outside the b64token charset:
//     invalid_token 401, before any parsing or network call;
//   - whatever v refuses, with v's kind (invalid_token, expired_token,
//     unavailable);
//   - a revoked token (WithRevocation): invalid_token 401; a revocation
//     check that fails: unavailable 503.
//
// A request admitted on a token from the query or a cookie has its response
// kept out of shared caches (RFC 6750 §2.3): Cache-Control is private when
// the status is written, "public" or a field-limited private="…" of the
// handler's replaced, other directives kept, no-store left as it is. The
// handler gets a ResponseWriter that flushes, hijacks and unwraps (for
// http.ResponseController) as the server's does; this costs a few
// allocations (the writer, the header value), on those requests only. A token from the Authorization header costs
// nothing here: shared caches do not reuse its responses (RFC 9111 §3.5).
//
// Authenticate panics if v is nil.
func Authenticate(v Verifier, opts ...Option) func(http.Handler) http.Handler {
	if v == nil {
		panic("middleware.Authenticate: nil Verifier")
	}
	a := &authenticator{verifier: v, maxTokenBytes: DefaultMaxTokenBytes, onRefusal: newRefusalLog(nil)}
	a.remembering, _ = v.(Remembering)
	for _, o := range opts {
		o(a)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if a.skip != nil && a.skip(r) {
				next.ServeHTTP(w, r)
				return
			}
			if a.preflight != nil && isPreflight(r) {
				a.preflight.ServeHTTP(w, r)
				return
			}
			p, outsideHeader, layer, err := a.authenticate(r)
			if err == errMissingToken && a.optional { // no credential at all, not a refusal
				next.ServeHTTP(w, r)
				return
			}
			if err != nil {
				a.refuse(w, r, p, layer, err)
				return
			}
			if outsideHeader {
				w = newPrivateWriter(w)
			}
			next.ServeHTTP(w, reqstate.SetPrincipal(r, p))
		})
	}
}

var errRevoked = tgerrors.New(tgerrors.InvalidToken, "")

// authenticate returns the request's principal, and whether its token came
// from outside the Authorization header (the query or a cookie). A refusal
// comes with the layer the observer is told refused it.
func (a *authenticator) authenticate(r *http.Request) (*principal.Principal, bool, string, *tgerrors.Error) {
	token, outsideHeader, terr := a.extractToken(r)
	if terr != nil {
		return nil, false, observe.LayerAuthenticate, terr
	}
	p, layer, err := a.verify(r, token)
	return p, outsideHeader, layer, err
}

// verify checks token: the verifier's cache, else the charset and the
// verifier, then revocation. It reports the cache lookup and the
// revocation check to the request's observer.
func (a *authenticator) verify(r *http.Request, token string) (*principal.Principal, string, *tgerrors.Error) {
	var p *principal.Principal
	obs := observe.From(r.Context())
	if a.remembering != nil {
		p = a.remembering.Remembered(token)
		obs.ReportTokenCache(r.Context(), p != nil)
	}
	if p == nil {
		if !bearer.Valid(token) {
			return nil, observe.LayerAuthenticate, errBadToken
		}
		var err error
		if p, err = a.verifier.Verify(r.Context(), token); err != nil {
			return nil, verifierLayer(a.verifier, token), tgerrors.From(err)
		}
		if p == nil {
			return nil, verifierLayer(a.verifier, token), tgerrors.New(tgerrors.InvalidToken, "")
		}
	}
	if a.revocation != nil {
		revoked, err := a.revocation.Revoked(r.Context(), token, p)
		if err != nil {
			obs.ReportRevocation(r.Context(), observe.OutcomeError)
			return p, observe.LayerAuthenticate, tgerrors.Wrap(tgerrors.Unavailable, "", err)
		}
		if revoked {
			obs.ReportRevocation(r.Context(), observe.OutcomeRevoked)
			return p, observe.LayerAuthenticate, errRevoked
		}
		obs.ReportRevocation(r.Context(), observe.OutcomeOK)
	}
	return p, "", nil
}

// ObservedLayer is implemented by a Verifier that names the layer the
// observer is told refused a token it refuses (introspect.Client says
// observe.LayerIntrospect, apikey.Keys observe.LayerAPIKey). Other
// verifiers' refusals are observe.LayerAuthenticate's.
type ObservedLayer interface {
	ObservedLayer(token string) string
}

// verifierLayer is the layer a refusal of token by v is reported as.
func verifierLayer(v Verifier, token string) string {
	if l, ok := v.(ObservedLayer); ok {
		if layer := l.ObservedLayer(token); layer != "" {
			return layer
		}
	}
	return observe.LayerAuthenticate
}

func (a *authenticator) refuse(w http.ResponseWriter, r *http.Request, p *principal.Principal, layer string, e *tgerrors.Error) {
	observe.From(r.Context()).ReportRefusal(r.Context(), layer, string(e.Kind))
	if a.onRefusal != nil {
		ref := Refusal{Kind: e.Kind, Err: e.Err}
		if p != nil {
			ref.Issuer, ref.ClientID = p.Issuer(), p.ClientID()
		}
		a.onRefusal(r, ref)
	}
	tgerrors.Write(w, r, e)
}
