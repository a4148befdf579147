package apikey

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/tollgate/tollgate/ratelimit"
)

// Defaults of Config.
const (
	DefaultCacheSize        = 10_000
	DefaultCacheTTL         = 30 * time.Second
	DefaultNegativeTTL      = 5 * time.Second
	DefaultLookupTimeout    = 2 * time.Second
	DefaultLastUsedInterval = time.Minute
)

// Config configures Keys. Store, Peppers and Prefixes are required; every
// other field has a safe default.
type Config struct {
	// Store keeps the keys: NewMemoryStore() or pgstore.New(pool).
	// Required.
	Store Store
	// Peppers are the HMAC keys tokens are hashed with, newest first (see
	// ParsePeppers). New tokens are hashed with the first; tokens hashed
	// with the others keep working, and are rehashed with the first, off
	// the request path, the first time they are verified. Required.
	Peppers []Pepper
	// Prefixes are the kinds of key, the first the default of Create.
	// Tokens of any other prefix are refused without a lookup. Required.
	Prefixes []Prefix

	// CacheSize bounds how many verified tokens (and unknown ones) are
	// kept in memory. Default DefaultCacheSize.
	CacheSize int
	// CacheTTL is how long a verified key is answered from memory before
	// the store is read again: the bound on staleness if change
	// notifications are lost (a store that is a Watcher tells every
	// replica of each change at once). Default DefaultCacheTTL.
	CacheTTL time.Duration
	// NegativeTTL is how long a token no key has is remembered as
	// unknown. Default DefaultNegativeTTL.
	NegativeTTL time.Duration
	// LookupTimeout bounds a store lookup on a cache miss; past it the
	// request is refused with unavailable. Default DefaultLookupTimeout.
	LookupTimeout time.Duration
	// LastUsedInterval is how often, at most, a key's LastUsedAt is
	// written: writes are batched off the request path, at most one per
	// key per interval across every replica. Negative turns the writes
	// off. Default DefaultLastUsedInterval.
	LastUsedInterval time.Duration

	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives the store outages and recoveries of background
	// work; nil means slog.Default().
	Logger *slog.Logger
}

// Keys issues, stores, manages and verifies API keys: Create and Rotate
// hand out a token once; the store keeps only its keyed hash; Verify (the
// middleware.Verifier interface) answers a token from memory in well under
// a microsecond, and reads the store once per key per CacheTTL.
//
// Every change made through the management methods (Update, Deactivate,
// Reactivate, Revoke, Rotate) is seen by this Keys' next Verify, and by
// every other replica's as soon as the store's change notification
// arrives (a Watcher store: MemoryStore shared in one process, pgstore's
// LISTEN/NOTIFY across processes, within milliseconds), or at the latest
// after CacheTTL.
//
// Keys is safe for concurrent use. Close stops its background work.
type Keys struct {
	store       Store
	hasher      *hasher
	prefixes    []Prefix
	cache       *cache
	ttl, negTTL time.Duration
	timeout     time.Duration
	lastUsedInt time.Duration
	now         func() time.Time
	log         *slog.Logger
	flight      flight
	limits      limitTable

	uses    chan Use
	rehash  chan rehash
	flushes chan chan error
	bgDone  chan struct{}
	stop    context.CancelFunc
	wg      sync.WaitGroup
	closed  sync.Once
}

type rehash struct {
	id  string
	old Digest
	new Hash
}

// New returns Keys for cfg and starts its background work: batched
// last-used writes and, if the store is a Watcher, the change
// subscription, which New waits for (at most LookupTimeout). It fails if
// a required field is missing or invalid.
func New(cfg Config) (*Keys, error) {
	if cfg.Store == nil {
		return nil, errors.New("apikey: Config.Store is required")
	}
	if len(cfg.Peppers) == 0 {
		return nil, errors.New("apikey: Config.Peppers is required")
	}
	for i, p := range cfg.Peppers {
		if p.id == "" || len(p.key) < MinPepperBytes {
			return nil, fmt.Errorf("apikey: Config.Peppers[%d] was not made by NewPepper or ParsePeppers", i)
		}
		for _, q := range cfg.Peppers[:i] {
			if q.id == p.id {
				return nil, fmt.Errorf("apikey: pepper %q given twice", p.id)
			}
		}
	}
	if len(cfg.Prefixes) == 0 {
		return nil, errors.New("apikey: Config.Prefixes is required")
	}
	prefixes := slices.Clone(cfg.Prefixes)
	for i, p := range prefixes {
		if err := p.validate(); err != nil {
			return nil, err
		}
		if p.Type == "" {
			prefixes[i].Type = "apikey"
		}
		for _, q := range prefixes[:i] {
			if q.Name == p.Name {
				return nil, fmt.Errorf("apikey: prefix %q given twice", p.Name)
			}
		}
	}
	k := &Keys{
		store:       cfg.Store,
		hasher:      newHasher(slices.Clone(cfg.Peppers)),
		prefixes:    prefixes,
		cache:       newCache(orDefault(cfg.CacheSize, DefaultCacheSize)),
		ttl:         orDefault(cfg.CacheTTL, DefaultCacheTTL),
		negTTL:      orDefault(cfg.NegativeTTL, DefaultNegativeTTL),
		timeout:     orDefault(cfg.LookupTimeout, DefaultLookupTimeout),
		lastUsedInt: orDefault(cfg.LastUsedInterval, DefaultLastUsedInterval),
		now:         cfg.Now,
		log:         cfg.Logger,
		uses:        make(chan Use, 4096),
		rehash:      make(chan rehash, 256),
		flushes:     make(chan chan error),
		bgDone:      make(chan struct{}),
	}
	if k.now == nil {
		k.now = time.Now
	}
	if k.log == nil {
		k.log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	k.stop = cancel
	k.wg.Add(1)
	go k.background(ctx)
	if w, ok := cfg.Store.(Watcher); ok {
		subscribed := make(chan struct{})
		var once sync.Once
		k.wg.Add(1)
		go func() {
			defer k.wg.Done()
			_ = w.Watch(ctx, func(id string) {
				k.changed(id)
				if id == "" {
					once.Do(func() { close(subscribed) })
				}
			})
		}()
		// Changes made elsewhere from now on must reach this replica, so
		// wait for the subscription; a store that cannot be reached gets
		// LookupTimeout, and Watch keeps trying in the background.
		t := time.NewTimer(k.timeout)
		select {
		case <-subscribed:
		case <-t.C:
			k.log.Warn("apikey: not yet subscribed to key changes; verifying with CacheTTL as the bound until it is")
		}
		t.Stop()
	}
	return k, nil
}

func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Close writes the pending last-used times and stops the background work.
// Verify keeps working after Close, without change notifications.
func (k *Keys) Close() error {
	var err error
	k.closed.Do(func() {
		err = k.Flush(context.Background())
		k.stop()
		k.wg.Wait()
	})
	return err
}

// changed is the Watcher's callback.
func (k *Keys) changed(id string) {
	if id == "" {
		k.cache.flush()
		return
	}
	k.cache.invalidate(id)
}

// Spec is what Create makes a key from.
type Spec struct {
	// Prefix is the Prefix.Name of the key's kind; "" means the first of
	// Config.Prefixes.
	Prefix string
	// Name is the owner's label for the key, up to 200 bytes.
	Name string
	// Owner is who the key belongs to; Owner.ID is required.
	Owner Owner
	// Permissions are the scopes the key grants: up to 100 names, each
	// 1 to 128 printable ASCII characters without spaces or quotes.
	Permissions []string
	// Metadata becomes string claims of the principal (up to 50 entries;
	// no ReservedClaims names).
	Metadata map[string]string
	// ExpiresAt, if set, is when the key stops working; it must be in the
	// future.
	ExpiresAt time.Time
	// RateLimit, if set, replaces the default rate limits for this key
	// (see Keys.LimitFor). It must pass Limit.Validate.
	RateLimit *ratelimit.Limit
	// RemainingUses, if set, is how many verifications the key passes.
	RemainingUses *int64
}

// Create makes a key and returns it with its token. The token is in no
// store and no log: this is the only time anyone sees it. Errors wrap
// ErrInvalid for a bad spec; others come from the store.
func (k *Keys) Create(ctx context.Context, s Spec) (*Key, Secret, error) {
	if s.Prefix == "" {
		s.Prefix = k.prefixes[0].Name
	}
	if k.prefix(s.Prefix) == nil {
		return nil, Secret{}, fmt.Errorf("%w: unknown prefix %q", ErrInvalid, s.Prefix)
	}
	now := k.stamp()
	key := &Key{
		Prefix:        s.Prefix,
		Name:          s.Name,
		Owner:         s.Owner,
		Permissions:   slices.Clone(s.Permissions),
		Metadata:      cloneMap(s.Metadata),
		Status:        Active,
		CreatedAt:     now,
		UpdatedAt:     now,
		ExpiresAt:     stampOf(s.ExpiresAt),
		RateLimit:     cloneLimit(s.RateLimit),
		RemainingUses: cloneUses(s.RemainingUses),
		Version:       1,
	}
	if err := validateOwner(key.Owner); err != nil {
		return nil, Secret{}, err
	}
	if err := validateMutable(key, now); err != nil {
		return nil, Secret{}, err
	}
	for attempt := 0; ; attempt++ {
		id, err := newID(now)
		if err != nil {
			return nil, Secret{}, err
		}
		token, err := newToken(s.Prefix)
		if err != nil {
			return nil, Secret{}, err
		}
		key.ID, key.Hint = id, Hint(token)
		h := Hash{Digest: k.hasher.digest(token, 0), Pepper: k.hasher.peppers[0].id}
		err = k.store.Insert(ctx, key, h)
		if errors.Is(err, ErrConflict) && attempt < 2 {
			continue // a random collision: astronomically rare, so retry
		}
		if err != nil {
			return nil, Secret{}, err
		}
		return key.Clone(), Secret{token: token}, nil
	}
}

// Get returns key id. ErrNotFound if there is none.
func (k *Keys) Get(ctx context.Context, id string) (*Key, error) {
	return k.store.Get(ctx, id)
}

// MaxPage is the largest page List returns.
const MaxPage = 1000

// List returns a page of owner's keys in creation order, after the key
// with id after ("" for the first page), at most limit (1 to MaxPage;
// 0 means 100). next is the after of the following page, "" on the last.
func (k *Keys) List(ctx context.Context, owner, after string, limit int) (keys []*Key, next string, err error) {
	if owner == "" {
		return nil, "", fmt.Errorf("%w: owner is required", ErrInvalid)
	}
	if limit == 0 {
		limit = 100
	}
	if limit < 0 || limit > MaxPage {
		return nil, "", fmt.Errorf("%w: page size %d, 1 to %d", ErrInvalid, limit, MaxPage)
	}
	keys, err = k.store.List(ctx, ListQuery{Owner: owner, After: after, Limit: limit + 1})
	if err != nil {
		return nil, "", err
	}
	if len(keys) > limit {
		keys = keys[:limit]
		next = keys[limit-1].ID
	}
	return keys, next, nil
}

// Update changes key id through fn, atomically. fn may change Name,
// Permissions, Metadata, ExpiresAt, RateLimit and RemainingUses; a change
// to any other field, or an invalid value, is an error wrapping ErrInvalid
// and nothing is written. fn runs with the key locked in the store, so it
// must be quick and must not call k. A revoked key cannot be changed
// (ErrRevoked).
func (k *Keys) Update(ctx context.Context, id string, fn func(*Key) error) (*Key, error) {
	return k.modify(ctx, id, func(key *Key, hashes []Hash) ([]Hash, error) {
		if key.Status == Revoked {
			return nil, ErrRevoked
		}
		before := key.Clone()
		if err := fn(key); err != nil {
			return nil, err
		}
		if key.ID != before.ID || key.Prefix != before.Prefix || key.Hint != before.Hint ||
			key.Owner != before.Owner || key.Status != before.Status ||
			!key.CreatedAt.Equal(before.CreatedAt) || !key.UpdatedAt.Equal(before.UpdatedAt) ||
			!key.LastUsedAt.Equal(before.LastUsedAt) || key.Version != before.Version {
			return nil, fmt.Errorf("%w: Update may change only Name, Permissions, Metadata, ExpiresAt, RateLimit and RemainingUses", ErrInvalid)
		}
		now := k.stamp()
		key.ExpiresAt = stampOf(key.ExpiresAt)
		if !key.ExpiresAt.Equal(before.ExpiresAt) && !key.ExpiresAt.IsZero() && !key.ExpiresAt.After(now) {
			return nil, fmt.Errorf("%w: ExpiresAt must be in the future", ErrInvalid)
		}
		if err := validateMutable(key, time.Time{}); err != nil {
			return nil, err
		}
		key.UpdatedAt = now
		return hashes, nil
	})
}

// Deactivate makes key id refused (invalid_token) until Reactivate.
// Deactivating an inactive key does nothing; a revoked one is ErrRevoked.
func (k *Keys) Deactivate(ctx context.Context, id string) (*Key, error) {
	return k.setStatus(ctx, id, Inactive)
}

// Reactivate makes an inactive key work again. A revoked key is
// ErrRevoked; an expired one stays expired until its ExpiresAt changes.
func (k *Keys) Reactivate(ctx context.Context, id string) (*Key, error) {
	return k.setStatus(ctx, id, Active)
}

// Revoke refuses key id for good: no call can make it work again. The
// record is kept, for the portal's history and the logs. Revoking a
// revoked key does nothing.
func (k *Keys) Revoke(ctx context.Context, id string) (*Key, error) {
	return k.setStatus(ctx, id, Revoked)
}

func (k *Keys) setStatus(ctx context.Context, id string, s Status) (*Key, error) {
	return k.modify(ctx, id, func(key *Key, hashes []Hash) ([]Hash, error) {
		if key.Status == Revoked {
			if s == Revoked {
				return hashes, nil
			}
			return nil, ErrRevoked
		}
		if key.Status != s {
			key.Status = s
			key.UpdatedAt = k.stamp()
		}
		return hashes, nil
	})
}

// Rotate gives key id a new token, returned once, and keeps its old token
// working for grace (0: not at all), so a merchant can deploy the new one
// before the old one stops. A secret rotated out earlier and still in its
// grace period is dropped. The key's id, permissions and settings stay.
// A revoked key is ErrRevoked.
func (k *Keys) Rotate(ctx context.Context, id string, grace time.Duration) (*Key, Secret, error) {
	if grace < 0 {
		return nil, Secret{}, fmt.Errorf("%w: negative grace period", ErrInvalid)
	}
	var token string
	key, err := k.modify(ctx, id, func(key *Key, hashes []Hash) ([]Hash, error) {
		if key.Status == Revoked {
			return nil, ErrRevoked
		}
		var err error
		if token, err = newToken(key.Prefix); err != nil {
			return nil, err
		}
		now := k.stamp()
		out := []Hash{{Digest: k.hasher.digest(token, 0), Pepper: k.hasher.peppers[0].id}}
		if grace > 0 {
			for _, h := range hashes {
				if h.Until.IsZero() {
					h.Until = now.Add(grace)
					out = append(out, h)
				}
			}
		}
		key.Hint = Hint(token)
		key.UpdatedAt = now
		return out, nil
	})
	if err != nil {
		return nil, Secret{}, err
	}
	return key, Secret{token: token}, nil
}

// modify is store.Update followed by dropping the key from this replica's
// cache, so the next Verify here reads the change whether or not the
// store's notification has arrived.
func (k *Keys) modify(ctx context.Context, id string, fn func(*Key, []Hash) ([]Hash, error)) (*Key, error) {
	key, err := k.store.Update(ctx, id, fn)
	k.cache.invalidate(id)
	return key, err
}

func (k *Keys) prefix(name string) *Prefix {
	for i := range k.prefixes {
		if k.prefixes[i].Name == name {
			return &k.prefixes[i]
		}
	}
	return nil
}

// stamp is the time stored for a change: UTC, to the microsecond (what
// PostgreSQL keeps), so a key reads back as it was written.
func (k *Keys) stamp() time.Time { return stampOf(k.now()) }

func stampOf(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// newID returns "key_" + the creation time in milliseconds (8 base62
// digits, so ids sort in creation order) + 14 random base62 characters.
func newID(now time.Time) (string, error) {
	var b [4 + 8 + 14]byte
	copy(b[:], "key_")
	ms := uint64(now.UnixMilli())
	for i := 11; i >= 4; i-- {
		b[i] = base62[ms%62]
		ms /= 62
	}
	var r [32]byte
	for n := 12; n < len(b); {
		if _, err := rand.Read(r[:]); err != nil {
			return "", fmt.Errorf("apikey: reading random bytes: %w", err)
		}
		for _, c := range r {
			if c < 248 && n < len(b) {
				b[n] = base62[c%62]
				n++
			}
		}
	}
	return string(b[:]), nil
}

func cloneMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func cloneLimit(l *ratelimit.Limit) *ratelimit.Limit {
	if l == nil {
		return nil
	}
	c := *l
	return &c
}

func cloneUses(n *int64) *int64 {
	if n == nil {
		return nil
	}
	c := *n
	return &c
}
