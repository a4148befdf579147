package ratelimit

import (
	stderrors "errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate/tollgate/observe"

	"github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/principal"
)

// Config configures New. Only Limits is required: Config{Limits:
// []Limit{{Events: 100, Per: time.Minute}}} limits every caller, by
// principal or else by client IP, to 100 requests a minute in memory.
type Config struct {
	// Limits are the buckets every key is counted against; a request must
	// find a token in each. Several limits make a burst and a quota:
	// {Events: 10, Per: time.Second} and {Events: 1000, Per: time.Hour}.
	// Required unless LimitFor answers for every request.
	Limits []Limit

	// LimitFor returns an account's own limits, read from a claim (see
	// LimitFromClaim) or looked up by the application. p is nil on
	// requests without a principal. A nil or empty result means Limits.
	// It is called on every request, so it should be cheap (cache
	// lookups). A result that fails Limit.Validate refuses the request
	// with 503 unavailable: it is the application's configuration error,
	// and failing open would lift the limit. Default: nil (Limits for
	// everyone).
	LimitFor func(r *http.Request, p *principal.Principal) []Limit

	// Key names the bucket a request is counted against. Requests for
	// which it reports no key share one bucket, keyed "anonymous", rather
	// than going unlimited. Default: FirstKey(KeyByPrincipal, KeyByIP).
	Key KeyFunc

	// Store holds the buckets. Default: a MemoryStore with MaxKeys, Shards
	// and Now from this Config. Use ratelimit/redisstore to share limits
	// between replicas. When Store returns an error the request is refused
	// with 503 unavailable (a store that fails open answers from its own
	// fallback instead of returning an error). Limiters that share one
	// Store share buckets where both key and limit name agree, so give
	// them distinct limit names (or keys) unless that is the intent; a
	// key's limits of different names are counted apart however the
	// limiters' requests interleave.
	Store Store

	// MaxKeys and Shards configure the default MemoryStore (see
	// MemoryConfig). Ignored when Store is set.
	MaxKeys, Shards int

	// Now is the clock of the default MemoryStore, and of
	// X-RateLimit-Reset when a store's Decision carries no time. Default:
	// time.Now.
	Now func() time.Time

	// ResetSeconds writes X-RateLimit-Reset as seconds from now rather than
	// as a Unix time in seconds. Default: false (Unix time, as GitHub and
	// most providers send it).
	ResetSeconds bool

	// IETFHeaders adds the RateLimit-Policy and RateLimit fields of
	// draft-ietf-httpapi-ratelimit-headers-10 beside the X-RateLimit-*
	// ones. Default: false.
	IETFHeaders bool

	// Headers renames or leaves out the X-RateLimit-* headers. Default:
	// X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset.
	// Retry-After on a refusal is always sent (RFC 9110 §10.2.3).
	Headers HeaderNames

	// Cost is how many tokens a request takes from each of its limits: a
	// bulk endpoint may cost 10, a search 5. Values below 1 count as 1; a
	// request costing more than a limit's capacity is always refused (429,
	// Retry-After the time the bucket takes to fill). The Store must be a
	// WeightedStore (MemoryStore and redisstore.Store are); New panics
	// otherwise. Default: nil (every request costs 1).
	Cost func(r *http.Request) int

	// Exempt lets a request through uncounted and without rate-limit
	// headers when it returns true: an internal health checker, a partner
	// on a contract of its own, a key on an allow-list (see ExemptKeys).
	// key is the request's bucket key (KeyFunc's, or "anonymous"). It runs
	// on every request before the store is asked. Default: nil (no one is
	// exempt).
	Exempt func(r *http.Request, key string) bool

	// OnLimited is called for every request refused because a limit is
	// spent, after the rate-limit headers are set and before the 429 is
	// written: to log, count or alert (httprate's and ulule's limit
	// handlers). key is the request's bucket key, which may be an IP or a
	// token digest: keep it out of logs that must not hold them. It must
	// not write the response. Default: nil.
	OnLimited func(r *http.Request, key string, d Decision)
}

// HeaderNames are the names of the rate-limit headers. An empty name keeps
// the default; "-" leaves the header out.
type HeaderNames struct {
	Limit, Remaining, Reset string
}

// ExemptKeys returns an Exempt function that lets through the requests whose
// bucket key is one of keys, exactly ("client:partner-7", "ip:192.0.2.1").
func ExemptKeys(keys ...string) func(r *http.Request, key string) bool {
	set := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		set[k] = struct{}{}
	}
	return func(_ *http.Request, key string) bool {
		_, ok := set[key]
		return ok
	}
}

// anonymousKey is the one bucket shared by requests the KeyFunc has no key
// for.
const anonymousKey = "anonymous"

// Canonical header names, so that setting them is a map assignment.
const (
	hLimit     = "X-Ratelimit-Limit"
	hRemaining = "X-Ratelimit-Remaining"
	hReset     = "X-Ratelimit-Reset"
	hPolicy    = "Ratelimit-Policy"
	hRateLimit = "Ratelimit"
)

type limiter struct {
	cfg    Config
	limits []Limit
	// Header values of the configured limits (see headerValues).
	values []headerValues // per limit
	policy [1]string      // RateLimit-Policy
	// numbers are the shared header values of 0 to maxSmallNumber.
	numbers *[maxSmallNumber + 1][1]string
	// weighted is Store when Cost is set.
	weighted WeightedStore
	// names are the canonical X-RateLimit-* names, "" for one left out.
	hLimit, hRemaining, hReset string
}

// New returns a middleware that counts every request against its key's
// limits and refuses it with 429 rate_limited, and Retry-After, once a limit
// is spent. Every response carries X-RateLimit-Limit, X-RateLimit-Remaining
// and X-RateLimit-Reset for the most restrictive limit (see Decision), and
// with IETFHeaders the draft-10 RateLimit-Policy and RateLimit fields.
// Refusals are written with errors.Write in the request's format.
//
// An allowed request on a MemoryStore allocates only its key (one string
// for KeyByPrincipal and KeyByIP) when its header values are shared ones
// (see the package doc): the configured limits, a Remaining up to 4,096 or
// after one request on a full bucket, and a Reset up to about an hour
// ahead. Any other values are formatted, in two allocations.
//
// New panics if a limit is invalid, or if there are no Limits and no
// LimitFor.
func New(cfg Config) func(http.Handler) http.Handler {
	l := newLimiter(cfg)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			l.serve(next, w, r)
		})
	}
}

// headerName is the canonical form of a configured header name: def for
// "", "" (left out) for "-". It panics on a name that is not a valid field
// name.
func headerName(name, def string) string {
	switch name {
	case "":
		return def
	case "-":
		return ""
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			panic("ratelimit.New: header name " + strconv.Quote(name) + " is not a valid field name")
		}
	}
	return http.CanonicalHeaderKey(name)
}

func newLimiter(cfg Config) *limiter {
	if cfg.Store == nil {
		cfg.Store = NewMemoryStore(MemoryConfig{MaxKeys: cfg.MaxKeys, Shards: cfg.Shards, Now: cfg.Now})
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Key == nil {
		cfg.Key = FirstKey(KeyByPrincipal, KeyByIP)
	}
	var weighted WeightedStore
	if cfg.Cost != nil {
		var ok bool
		if weighted, ok = cfg.Store.(WeightedStore); !ok {
			panic("ratelimit.New: Cost is set but the Store cannot charge more than one token (it is not a WeightedStore)")
		}
	}
	l := &limiter{cfg: cfg, numbers: smallNumbers(), weighted: weighted,
		hLimit: headerName(cfg.Headers.Limit, hLimit), hRemaining: headerName(cfg.Headers.Remaining, hRemaining), hReset: headerName(cfg.Headers.Reset, hReset)}
	if len(cfg.Limits) > 0 || cfg.LimitFor == nil {
		limits, err := normalize(cfg.Limits)
		if err != nil {
			panic("ratelimit.New: " + err.Error())
		}
		l.limits = limits
		for _, lim := range limits {
			l.values = append(l.values, newHeaderValues(lim))
		}
		l.policy[0] = policyHeader(limits)
	}
	return l
}

func (l *limiter) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	limits, static := l.limits, true
	if l.cfg.LimitFor != nil {
		p, _ := principal.From(r.Context())
		if own := l.cfg.LimitFor(r, p); len(own) > 0 {
			var err error
			if limits, err = normalize(own); err != nil {
				observe.Refuse(r.Context(), observe.LayerRateLimit, string(errors.Unavailable))
				errors.Write(w, r, errors.Wrap(errors.Unavailable, "", err))
				return
			}
			static = false
		}
	}
	if len(limits) == 0 {
		observe.Refuse(r.Context(), observe.LayerRateLimit, string(errors.Unavailable))
		errors.Write(w, r, errors.Wrap(errors.Unavailable, "", stderrors.New("ratelimit: LimitFor returned no limits and Config.Limits is empty")))
		return
	}
	key, ok := l.cfg.Key(r)
	if !ok {
		key = anonymousKey
	}
	if l.cfg.Exempt != nil && l.cfg.Exempt(r, key) {
		next.ServeHTTP(w, r)
		return
	}
	var d Decision
	var err error
	if l.weighted != nil {
		d, err = l.weighted.AllowN(r.Context(), key, limits, l.cfg.Cost(r))
	} else {
		d, err = l.cfg.Store.Allow(r.Context(), key, limits)
	}
	if err != nil {
		e := errors.From(err)
		if e.Kind == errors.Unavailable && e.RetryAfter == 0 {
			e = &errors.Error{Kind: errors.Unavailable, RetryAfter: time.Second, Err: err}
		}
		observe.Refuse(r.Context(), observe.LayerRateLimit, string(e.Kind))
		errors.Write(w, r, e)
		return
	}
	l.writeHeaders(w.Header(), d, limits, static)
	if obs := observe.From(r.Context()); obs != nil {
		observeDecision(r.Context(), obs, d, limits)
	}
	if !d.Allowed {
		if l.cfg.OnLimited != nil {
			l.cfg.OnLimited(r, key, d)
		}
		errors.Write(w, r, &errors.Error{Kind: errors.RateLimited, RetryAfter: d.RetryAfter})
		return
	}
	next.ServeHTTP(w, r)
}
