package apikey

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/observe"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/ratelimit"
)

var (
	errMalformed = tgerrors.Wrap(tgerrors.InvalidToken, "", errors.New("apikey: not a well-formed key of a configured prefix"))
	errUnknown   = tgerrors.Wrap(tgerrors.InvalidToken, "", errors.New("apikey: no such key"))
)

// Verify implements middleware.Verifier. It refuses, with invalid_token, a
// token that is not shaped as one of a configured prefix before any
// hashing, computes the token's HMAC under the newest pepper and asks the
// cache. A hit is the token itself (its digest is that of a token issued),
// so its checksum needs no checking; on a miss a token with a bad
// character or checksum is refused before any lookup, so random garbage
// never reaches the store. Only a miss reads the store: one indexed
// query, shared by concurrent requests for the same token, bounded by
// LookupTimeout.
//
// An active key yields its principal; an expired one is expired_token; an
// inactive, revoked or unknown one, a rotated-out secret past its grace
// period, or a key with no uses left is invalid_token. A store that cannot
// answer is unavailable (503): never an admission. A cached answer costs
// no allocation.
func (k *Keys) Verify(ctx context.Context, token string) (*principal.Principal, error) {
	prefix, ok := tokenPrefix(token)
	if !ok || k.prefix(prefix) == nil {
		return nil, errMalformed
	}
	d := k.hasher.digest(token, 0)
	now := k.now().UnixNano()
	e := k.cache.get(d)
	if e == nil || now >= e.staleAt {
		if e == nil && !checkTail(token) {
			return nil, errMalformed
		}
		var err error
		if e, err = k.load(ctx, token, d); err != nil {
			return nil, err
		}
	}
	return k.admit(ctx, e, now)
}

// Recognizes reports whether token is shaped as a key of one of k's
// prefixes with a valid checksum, without hashing or looking it up: what a
// dispatcher in front of several verifiers needs. It allocates nothing.
func (k *Keys) Recognizes(token string) bool {
	prefix, ok := splitToken(token)
	return ok && k.prefix(prefix) != nil
}

func (k *Keys) admit(ctx context.Context, e *entry, now int64) (*principal.Principal, error) {
	switch {
	case e.negative:
		return nil, errUnknown
	case e.refusal != nil:
		return nil, e.refusal
	case e.expNano != 0 && now >= e.expNano:
		return nil, e.expired
	case e.untilNano != 0 && now >= e.untilNano:
		return nil, e.graceOver
	}
	if e.limitedUses {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.timeout)
		_, err := k.store.Consume(cctx, e.id)
		cancel()
		switch {
		case errors.Is(err, ErrExhausted), errors.Is(err, ErrNotFound):
			return nil, tgerrors.Wrap(tgerrors.InvalidToken, "", fmt.Errorf("apikey: key %s: %w", e.id, err))
		case err != nil:
			return nil, tgerrors.Wrap(tgerrors.Unavailable, "", fmt.Errorf("apikey: key %s: taking a use: %w", e.id, err))
		}
	}
	k.used(e, now)
	return e.principal, nil
}

// used queues a last-used write for e's key if none was queued within the
// interval. It never blocks: with the queue full the write is dropped.
func (k *Keys) used(e *entry, now int64) {
	if k.lastUsedInt < 0 {
		return
	}
	last := e.lastUse.Load()
	if now-last < int64(k.lastUsedInt) || !e.lastUse.CompareAndSwap(last, now) {
		return
	}
	select {
	case k.uses <- Use{ID: e.id, At: time.Unix(0, now).UTC().Truncate(time.Microsecond)}:
	default:
	}
}

// load reads the key of digest d from the store and caches the answer.
func (k *Keys) load(ctx context.Context, token string, d Digest) (*entry, error) {
	return k.flight.do(d, func() (*entry, error) {
		since := k.cache.begin()
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.timeout)
		defer cancel()
		digests := k.hasher.all(token)
		key, h, err := k.store.Lookup(lctx, digests)
		now := k.now()
		if errors.Is(err, ErrNotFound) {
			e := &entry{negative: true, staleAt: now.Add(k.negTTL).UnixNano()}
			k.cache.put(d, e, since)
			return e, nil
		}
		if err != nil {
			return nil, tgerrors.Wrap(tgerrors.Unavailable, "", fmt.Errorf("apikey: looking the key up: %w", err))
		}
		e := k.newEntry(key, h, now)
		k.cache.put(d, e, since)
		if h.Pepper != k.hasher.peppers[0].id {
			select {
			case k.rehash <- rehash{id: key.ID, old: h.Digest, new: Hash{Digest: d, Pepper: k.hasher.peppers[0].id, Until: h.Until}}:
			default:
			}
		}
		return e, nil
	})
}

// newEntry builds the cache entry, and the principal, for key.
func (k *Keys) newEntry(key *Key, h Hash, now time.Time) *entry {
	e := &entry{
		id:          key.ID,
		staleAt:     now.Add(k.ttl).UnixNano(),
		limitedUses: key.RemainingUses != nil,
	}
	if !key.LastUsedAt.IsZero() {
		e.lastUse.Store(key.LastUsedAt.UnixNano())
	}
	if !key.ExpiresAt.IsZero() {
		e.expNano = key.ExpiresAt.UnixNano()
		e.expired = tgerrors.Wrap(tgerrors.ExpiredToken, "", fmt.Errorf("apikey: key %s expired at %s", key.ID, key.ExpiresAt.Format(time.RFC3339)))
	}
	if !h.Until.IsZero() {
		e.untilNano = h.Until.UnixNano()
		e.graceOver = tgerrors.Wrap(tgerrors.InvalidToken, "", fmt.Errorf("apikey: key %s: a rotated-out secret past its grace period", key.ID))
	}
	if key.Status != Active {
		e.refusal = tgerrors.Wrap(tgerrors.InvalidToken, "", fmt.Errorf("apikey: key %s is %s", key.ID, key.Status))
		return e
	}
	typ := "apikey"
	if p := k.prefix(key.Prefix); p != nil {
		typ = p.Type
	}
	claims := make(map[string]any, len(key.Metadata)+8)
	for name, v := range key.Metadata {
		claims[name] = v
	}
	claims["sub"] = key.Owner.ID
	claims["key_id"] = key.ID
	claims["key_name"] = key.Name
	if key.Owner.OrgID != "" {
		claims["org_id"] = key.Owner.OrgID
	}
	if key.Owner.AppID != "" {
		claims["app_id"] = key.Owner.AppID
	}
	if l := key.RateLimit; l != nil {
		claims["rate_limit"] = float64(l.Events)
		claims["rate_limit_per"] = l.Per.Seconds()
		if l.Burst > 0 {
			claims["rate_limit_burst"] = float64(l.Burst)
		}
	}
	scopes := make([]string, len(key.Permissions))
	copy(scopes, key.Permissions)
	e.principal = principal.New(principal.Fields{
		Subject:   key.Owner.ID,
		ClientID:  key.ID,
		Type:      typ,
		TokenID:   key.ID,
		Scopes:    scopes,
		IssuedAt:  key.CreatedAt,
		ExpiresAt: key.ExpiresAt,
		Claims:    claims,
	})
	return e
}

// LimitFor is a ratelimit.Config.LimitFor that gives a key with a
// RateLimit that limit instead of the configured default:
//
//	ratelimit.New(ratelimit.Config{Limits: defaults, LimitFor: keys.LimitFor})
//
// It reads the principal's rate_limit, rate_limit_per and rate_limit_burst
// claims, set by Verify, on principals of k's prefixes' types only (a JWT's
// claims of the same names are not read), and returns the same slice for
// the same limit, so it allocates nothing on a hot path. The limit is
// named "rate_limit" (RateLimit.Name is not kept). Principals without a
// limit get nil: the configured Limits.
func (k *Keys) LimitFor(_ *http.Request, p *principal.Principal) []ratelimit.Limit {
	if p == nil || !k.madeByKeys(p) {
		return nil
	}
	ev, _ := p.Claim("rate_limit")
	events, ok := ev.(float64)
	if !ok || events < 1 || events > math.MaxInt32 {
		return nil
	}
	pv, _ := p.Claim("rate_limit_per")
	per, ok := pv.(float64)
	if !ok || per <= 0 {
		return nil
	}
	burst := 0.0
	if bv, ok := p.Claim("rate_limit_burst"); ok {
		burst, _ = bv.(float64)
	}
	return k.limits.get(int(events), time.Duration(per*float64(time.Second)), int(burst))
}

// madeByKeys reports whether p has the marks of a principal Verify
// builds: no issuer, a type of k's prefixes, and its key id as TokenID.
func (k *Keys) madeByKeys(p *principal.Principal) bool {
	return p.Issuer() == "" && k.ownType(p.Type()) && p.TokenID() != "" && p.StringClaim("key_id") == p.TokenID()
}

func (k *Keys) ownType(t string) bool {
	for i := range k.prefixes {
		if k.prefixes[i].Type == t {
			return true
		}
	}
	return false
}

// limitTable interns the []ratelimit.Limit of each distinct per-key limit,
// read without a lock: a slot is replaced whole, never changed.
type limitTable struct {
	slots [64]atomic.Pointer[limitSlot]
}

type limitSlot struct {
	events, burst int
	per           time.Duration
	limits        []ratelimit.Limit
}

func (t *limitTable) get(events int, per time.Duration, burst int) []ratelimit.Limit {
	h := uint64(events)*0x9e3779b97f4a7c15 ^ uint64(per)*0xbf58476d1ce4e5b9 ^ uint64(burst)
	s := &t.slots[h>>58]
	if v := s.Load(); v != nil && v.events == events && v.per == per && v.burst == burst {
		return v.limits
	}
	v := &limitSlot{events: events, per: per, burst: burst,
		limits: []ratelimit.Limit{{Name: "rate_limit", Events: events, Per: per, Burst: burst}}}
	s.Store(v)
	return v.limits
}

// flight makes concurrent misses for one digest share one store lookup.
type flight struct {
	mu    sync.Mutex
	calls map[Digest]*flightCall
}

type flightCall struct {
	done chan struct{}
	e    *entry
	err  error
}

func (f *flight) do(d Digest, fn func() (*entry, error)) (*entry, error) {
	f.mu.Lock()
	if c, ok := f.calls[d]; ok {
		f.mu.Unlock()
		<-c.done
		return c.e, c.err
	}
	if f.calls == nil {
		f.calls = map[Digest]*flightCall{}
	}
	c := &flightCall{done: make(chan struct{})}
	f.calls[d] = c
	f.mu.Unlock()
	c.e, c.err = fn()
	f.mu.Lock()
	delete(f.calls, d)
	f.mu.Unlock()
	close(c.done)
	return c.e, c.err
}

// ObservedLayer names API keys as the layer that refused a token, for the
// observer of middleware.Authenticate.
func (k *Keys) ObservedLayer(string) string { return observe.LayerAPIKey }
