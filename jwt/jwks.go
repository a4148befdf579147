package jwt

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	stderrors "errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

var (
	errJWKSCooldown = stderrors.New("key set fetched recently; waiting for the cooldown")
	errJWKSClosed   = stderrors.New("verifier closed")
)

// jwksSource is one issuer's remote key set. The request path reads set and
// validUntil atomically and never locks; mu guards only the fetch
// bookkeeping.
type jwksSource struct {
	issuer, url string
	// discover, if set, is the issuer whose metadata names the key set's
	// URL, read again before each fetch; url is then unused. tenant is
	// the tenant a per-tenant source serves, for a jwks_uri that names it.
	discover, tenant string
	client           *http.Client
	now              func() time.Time
	onError          func(issuer string, err error)
	observed         jwksObserved // observe.go

	fetchTimeout, cooldown, staleLimit time.Duration
	refresh, minRefresh, maxRefresh    time.Duration
	maxBytes                           int64

	set        atomic.Pointer[keySet] // nil until the first successful fetch
	validUntil atomic.Int64           // Now().UnixNano() past which set is stale; 0: never fetched

	ctx context.Context
	wg  *sync.WaitGroup

	mu             sync.Mutex
	closed         bool
	inflight       *jwksFetch
	lastTokenFetch time.Time     // when a token last caused a fetch
	nextRefresh    time.Duration // when the background loop fetches next, after the last fetch

	// last is what the previous successful download returned, for the
	// conditional request and the unchanged-body check of the next one.
	// Only the one fetch in flight (see fetchNow) reads or writes it.
	last lastDownload
}

// lastDownload is what a download remembers of the body that made the
// current set: the URL it came from, its validators and its SHA-256, so
// that an unchanged set is neither downloaded nor parsed again.
type lastDownload struct {
	url, etag, lastModified string
	sum                     [sha256.Size]byte
}

// jwksFetch is one fetch in flight; every request that needs it waits on
// done, so concurrent requests share one fetch.
type jwksFetch struct {
	done chan struct{}
	err  error
}

func newJWKSSource(issuer, url string, c *Config) *jwksSource {
	return &jwksSource{
		issuer: issuer, url: url, client: c.HTTPClient, now: c.Now, onError: c.OnRefreshError,
		fetchTimeout: c.FetchTimeout, cooldown: c.UnknownKIDCooldown, staleLimit: c.StaleLimit,
		refresh: c.RefreshInterval, minRefresh: c.MinRefreshInterval, maxRefresh: c.MaxRefreshInterval,
		maxBytes:    c.MaxJWKSBytes,
		observed:    jwksObserved{o: c.Observer},
		nextRefresh: c.MinRefreshInterval,
	}
}

func (r *jwksSource) start(ctx context.Context, wg *sync.WaitGroup) {
	r.ctx, r.wg = ctx, wg
}

// stop forbids new fetches; the caller then waits on the WaitGroup.
func (r *jwksSource) stop() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
}

func (r *jwksSource) stale(now time.Time) bool {
	u := r.validUntil.Load()
	return u == 0 || now.UnixNano() > u
}

// fetchNow returns the fetch in flight, or starts one. Unless force is set,
// a fetch is started only if no token caused one within the cooldown, or if
// the source has no usable set (so that the first token after an outage
// finds the keys back, instead of waiting out a cooldown the outage
// started); it returns nil then, and the caller must not wait.
func (r *jwksSource) fetchNow(force bool) *jwksFetch {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inflight != nil {
		return r.inflight
	}
	if r.closed {
		return nil
	}
	now := r.now()
	if !force {
		if !r.lastTokenFetch.IsZero() && now.Sub(r.lastTokenFetch) < r.cooldown && r.usable(now) {
			return nil
		}
		r.lastTokenFetch = now
	}
	f := &jwksFetch{done: make(chan struct{})}
	r.inflight = f
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		err := r.fetch()
		r.mu.Lock()
		r.inflight = nil
		r.mu.Unlock()
		f.err = err
		close(f.done)
	}()
	return f
}

// wait waits for f, or for ctx.
func (r *jwksSource) wait(ctx context.Context, f *jwksFetch) error {
	if f == nil {
		r.mu.Lock()
		closed := r.closed
		r.mu.Unlock()
		if closed {
			return errJWKSClosed
		}
		return errJWKSCooldown
	}
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// refreshLoop fetches the set again each time it is due, until ctx is done.
func (r *jwksSource) refreshLoop(ctx context.Context) {
	for {
		r.mu.Lock()
		d := r.nextRefresh
		r.mu.Unlock()
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		_ = r.wait(ctx, r.fetchNow(true))
	}
}

// key is the request path: the key for (kid, alg) from the current set, or
// after one fetch shared with every other request that needs it.
func (r *jwksSource) key(ctx context.Context, kid string, hasKID bool, a *jwsAlgorithm) (*verifyKey, uint64, error) {
	for attempt := 0; ; attempt++ {
		if set := r.set.Load(); set != nil && !r.stale(r.now()) {
			if k := set.find(kid, hasKID, a); k != nil {
				return k, set.gen, nil
			}
		}
		if attempt == 1 {
			break
		}
		// A nil fetch means the cooldown holds: look once more, in case a
		// fetch finished since the first look, and refuse.
		if f := r.fetchNow(false); f != nil {
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, 0, refuseUnavailable(fmt.Errorf("waiting for the key set of %s: %w", r.issuer, ctx.Err()))
			}
		}
	}
	if r.set.Load() == nil || r.stale(r.now()) {
		return nil, 0, refuseUnavailable(fmt.Errorf("%w %s", errJWKSUnavailable, r.issuer))
	}
	return nil, 0, refuseInvalid(fmt.Errorf("%w: kid %q, alg %s", errJWTNoKey, kid, a.name))
}

// fetch downloads the set once. On success the set replaces the current one
// (keeping its generation, and so the cache, if the keys are the same); on
// failure the current set stays, until it is stale.
func (r *jwksSource) fetch() error {
	ctx, cancel := context.WithTimeout(r.ctx, r.fetchTimeout)
	defer cancel()
	start := r.now()
	url, err := r.keySetURL(ctx)
	var set *keySet
	var maxAge time.Duration
	if err == nil {
		set, maxAge, err = r.download(ctx, url, r.set.Load())
	}
	now := r.now()
	if err != nil {
		r.mu.Lock()
		r.nextRefresh = r.minRefresh
		r.mu.Unlock()
		if r.ctx.Err() == nil {
			r.onError(r.issuer, err)
		}
		r.observed.failed(r, start, now)
		return err
	}
	next := r.refresh
	if maxAge >= 0 {
		next = maxAge
	}
	next = min(max(next, r.minRefresh), r.maxRefresh)
	if old := r.set.Load(); set == old || set.sameKeys(old) {
		set = old
	} else {
		set.gen = nextKeySetGen()
		r.set.Store(set)
	}
	r.validUntil.Store(now.Add(next + r.staleLimit).UnixNano())
	r.mu.Lock()
	r.nextRefresh = next
	r.mu.Unlock()
	r.observed.loaded(r, start, now)
	return nil
}

// download fetches and parses the set. maxAge is -1 without a max-age.
//
// An unchanged set costs neither a parse nor a comparison of its keys: the
// request carries the previous response's ETag and Last-Modified (If-None-
// Match, If-Modified-Since), so a server that honours them answers 304 Not
// Modified with no body, and a 200 whose body is byte for byte the previous
// one (same SHA-256, same URL) is not parsed. Either way cur, the set in
// use, is returned as it is.
func (r *jwksSource) download(ctx context.Context, url string, cur *keySet) (*keySet, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	known := cur != nil && r.last.url == url
	if known {
		if r.last.etag != "" {
			req.Header.Set("If-None-Match", r.last.etag)
		}
		if r.last.lastModified != "" {
			req.Header.Set("If-Modified-Since", r.last.lastModified)
		}
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	maxAge := cacheMaxAge(resp.Header.Get("Cache-Control"))
	if resp.StatusCode == http.StatusNotModified && known {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return cur, maxAge, nil
	}
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, 0, fmt.Errorf("GET %s: status %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.maxBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", url, err)
	}
	if int64(len(body)) > r.maxBytes {
		return nil, 0, fmt.Errorf("GET %s: key set larger than %d bytes", url, r.maxBytes)
	}
	last := lastDownload{url: url, etag: resp.Header.Get("ETag"), lastModified: resp.Header.Get("Last-Modified"), sum: sha256.Sum256(body)}
	if known && last.sum == r.last.sum {
		r.last = last
		return cur, maxAge, nil
	}
	set, refused, err := parseJWKS(body)
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", url, err)
	}
	for _, k := range refused {
		slog.Default().Error("tollgate: JWKS key refused; it verifies nothing", "issuer", r.issuer, "kid", k.kid, "index", k.index, "reason", k.err)
	}
	r.last = last
	return set, maxAge, nil
}

// cacheMaxAge reads max-age from a Cache-Control header: -1 if absent, 0 for
// no-cache or no-store.
func cacheMaxAge(header string) time.Duration {
	for d := range strings.SplitSeq(header, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "no-cache" || d == "no-store" {
			return 0
		}
		if v, ok := strings.CutPrefix(d, "max-age="); ok {
			n, err := strconv.ParseInt(strings.Trim(v, `"`), 10, 64)
			if err != nil || n < 0 {
				continue
			}
			return time.Duration(min(n, int64(365*24*3600))) * time.Second
		}
	}
	return -1
}

// refusedKey is a key parseJWKS dropped, and why.
type refusedKey struct {
	index int
	kid   string
	err   error
}

// untrustedKeyError marks a well-formed key that must not verify anything.
type untrustedKeyError struct{ err error }

func (e *untrustedKeyError) Error() string { return e.err.Error() }
func (e *untrustedKeyError) Unwrap() error { return e.err }

func untrusted(err error) error { return &untrustedKeyError{err} }

// parseJWKS turns a JWK Set (RFC 7517 §5) into a keySet. It judges the set
// key by key, in three tiers:
//
//   - The whole set is refused, so that the last good one stays in use, if
//     it is not a JSON object with a "keys" array, if a key is not a JSON
//     object, has a member of the wrong JSON type, an unknown or symmetric
//     "kty", or key material that is no key of its type (it cannot be
//     parsed, or is an EC or Ed25519 point off its curve), if two signing
//     keys share a kid, or if no signing key remains. Such a set is broken
//     as a document; nothing in it can be relied on.
//   - A key is dropped, with an error log naming its kid, if it is well
//     formed but must not be trusted: it carries private key material
//     (whoever fetched the set could sign with it), its "use" and
//     "key_ops" contradict each other or "key_ops" repeats a value, its
//     "alg" does not suit it, or verifyKey.check refuses it (RSA moduli too
//     short, factorable or with the ROCA fingerprint, exponents crypto/rsa
//     cannot use, Ed25519 points of small order or not canonically
//     encoded). The other keys keep
//     working, and the dropped key verifies nothing: dropping, rather than
//     refusing the set, also stops a key the moment its set shows it
//     compromised, where keeping the last good set would keep it trusted.
//   - A key is skipped silently if it is simply not a verification key:
//     "use" other than "sig", "key_ops" without "verify" (RFC 7517 §4.3),
//     an "alg" that is no JWS algorithm tollgate supports, or a key for key
//     agreement only (X25519).
//
// The keys it dropped are returned for the caller to log.
func parseJWKS(body []byte) (*keySet, []refusedKey, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, fmt.Errorf("key set is not a JSON object: %w", err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(doc["keys"], &raws); err != nil || raws == nil {
		return nil, nil, stderrors.New(`key set has no "keys" array`)
	}
	set := &keySet{}
	var refused []refusedKey
	kids := map[string]bool{}
	for i, raw := range raws {
		k, kid, err := parseJWK(raw)
		var bad *untrustedKeyError
		switch {
		case stderrors.As(err, &bad):
			refused = append(refused, refusedKey{index: i, kid: kid, err: bad.err})
		case err != nil:
			return nil, nil, fmt.Errorf("key %d (kid %q): %w", i, kid, err)
		case k == nil:
			continue
		}
		if kid != "" && kids[kid] {
			return nil, nil, fmt.Errorf("key %d: kid %q is used twice", i, kid)
		}
		kids[kid] = true
		if k != nil {
			set.keys = append(set.keys, k)
		}
	}
	if len(set.keys) == 0 {
		if len(refused) > 0 {
			return nil, nil, fmt.Errorf("key set holds no signing key that can be trusted: key %d (kid %q): %w", refused[0].index, refused[0].kid, refused[0].err)
		}
		return nil, nil, stderrors.New("key set holds no signing key")
	}
	return set, refused, nil
}

// privateJWKMembers are the members that hold private key material (RFC
// 7518 §6.2.2 and §6.3.2, RFC 8037 §2).
var privateJWKMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth"}

// signatureKeyOps and their "use" (RFC 7517 §4.3): with "use": "sig", a
// key_ops may hold only these.
var signatureKeyOps = []string{"sign", "verify"}

// parseJWK returns the key and its kid, or a nil key and no error for a key
// to skip. An *untrustedKeyError is a key to drop; any other error refuses
// the set.
func parseJWK(raw json.RawMessage) (*verifyKey, string, error) {
	var meta map[string]any
	if err := json.Unmarshal(raw, &meta); err != nil || meta == nil {
		return nil, "", stderrors.New("not a JSON object")
	}
	strs := map[string]string{}
	for _, name := range []string{"kty", "kid", "use", "alg"} {
		if v, ok := meta[name]; ok {
			s, ok := v.(string)
			if !ok {
				return nil, "", fmt.Errorf("%q is not a string", name)
			}
			strs[name] = s
		}
	}
	kid := strs["kid"]
	ops, hasOps, err := keyOps(meta)
	if err != nil {
		return nil, kid, err
	}
	switch strs["kty"] {
	case "RSA", "EC", "OKP":
	default:
		return nil, kid, fmt.Errorf("key type %q is not supported", strs["kty"])
	}
	use, hasUse := strs["use"]
	if hasOps {
		seen := map[string]bool{}
		for _, op := range ops {
			if seen[op] {
				return nil, kid, untrusted(fmt.Errorf("key_ops lists %q twice", op))
			}
			seen[op] = true
			if use == "sig" && !slices.Contains(signatureKeyOps, op) {
				return nil, kid, untrusted(fmt.Errorf(`key_ops %q contradicts "use": "sig"`, op))
			}
			if hasUse && use != "sig" && slices.Contains(signatureKeyOps, op) {
				return nil, kid, untrusted(fmt.Errorf(`key_ops %q contradicts "use": %q`, op, use))
			}
		}
	}
	if hasUse && use != "sig" {
		return nil, kid, nil
	}
	if hasOps && !slices.Contains(ops, "verify") {
		return nil, kid, nil
	}
	if alg, ok := strs["alg"]; ok {
		if a := jwsAlgorithms[alg]; a == nil || a.family == familyHMAC {
			return nil, kid, nil
		}
	}
	for _, name := range privateJWKMembers {
		if _, ok := meta[name]; ok {
			return nil, kid, untrusted(fmt.Errorf("the key carries private key material (%q): whoever fetched the key set can sign with it", name))
		}
	}
	jk, err := jwk.ParseKey(raw)
	if err != nil {
		return nil, kid, err
	}
	var pub any
	if err := jwk.Export(jk, &pub); err != nil {
		return nil, kid, err
	}
	k := &verifyKey{kid: kid, alg: strs["alg"]}
	switch p := pub.(type) {
	case *rsa.PublicKey:
		k.rsa = p
	case *ecdsa.PublicKey:
		k.ec = p
	case ed25519.PublicKey:
		k.ed = p
	case *ecdh.PublicKey:
		return nil, kid, nil // X25519: key agreement only
	default:
		return nil, kid, fmt.Errorf("key of type %T cannot verify signatures", pub)
	}
	if err := k.check(); err != nil {
		if stderrors.Is(err, errEdNotOnCurve) || stderrors.Is(err, errECPoint) {
			return nil, kid, err
		}
		return nil, kid, untrusted(err)
	}
	return k, kid, nil
}

// keyOps reads "key_ops", which must be an array of strings if present.
func keyOps(meta map[string]any) ([]string, bool, error) {
	v, ok := meta["key_ops"]
	if !ok {
		return nil, false, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, true, stderrors.New(`"key_ops" is not an array`)
	}
	ops := make([]string, len(list))
	for i, op := range list {
		s, ok := op.(string)
		if !ok {
			return nil, true, stderrors.New(`"key_ops" holds a value that is not a string`)
		}
		ops[i] = s
	}
	return ops, true, nil
}
