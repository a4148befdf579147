package issuer

import (
	"cmp"
	"context"
	stderrors "errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/jwt"
)

// Defaults of KeyRingConfig.
const (
	DefaultSignPeriod       = 24 * time.Hour
	DefaultPublishAhead     = time.Hour
	DefaultMaxTokenLifetime = 24 * time.Hour
	DefaultKeyLeeway        = jwt.MaxLeeway
)

// KeyRingConfig configures a KeyRing. The zero value is ES256 keys in
// memory, each signing for a day, published an hour before it signs.
type KeyRingConfig struct {
	// Store keeps the keys. Nil means a new MemoryKeyStore: keys die with
	// the process. Use issuer/pgstore for tokens that survive restarts and
	// replicas that share one current key.
	Store KeyStore
	// Algorithm of new keys: ES256 (the default), EdDSA or RS256.
	Algorithm string
	// SignPeriod is how long a key signs before the next takes over;
	// default DefaultSignPeriod (24 h). It must exceed 2 × PublishAhead.
	SignPeriod time.Duration
	// PublishAhead is how long a new key is in the JWKS before it signs:
	// at least the longest time a verifier caches the JWKS, which is what
	// the JWKS handler's Cache-Control max-age says. Default 1 h.
	PublishAhead time.Duration
	// MaxTokenLifetime bounds the lifetime of every token signed with the
	// ring's keys (a Minter refuses longer ones): a retired key stays
	// published this long, plus Leeway, after it last signed. Default 24 h.
	MaxTokenLifetime time.Duration
	// Leeway is the clock skew verifiers allow past exp; default
	// jwt.MaxLeeway (5 min), the most any tollgate verifier allows.
	Leeway time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// KeyRing generates, rotates and publishes signing keys on a schedule:
//
//   - A new key is added to the store (and so to the JWKS) PublishAhead
//     before it starts signing, so every verifier that caches the JWKS for
//     at most PublishAhead has it before the first token it signs. The
//     ring adds it once the current key has signed for SignPeriod −
//     2 × PublishAhead, leaving a PublishAhead of margin for a late
//     rotation; it signs from the later of the current key's NotBefore +
//     SignPeriod and now + PublishAhead.
//   - A key signs until the next generation's NotBefore. If rotation
//     stalls (the store is down), the current key simply signs longer:
//     minting never stops for want of a new key.
//   - A retired key stays published until every token it signed has
//     expired: the successor's NotBefore + MaxTokenLifetime + Leeway. Then
//     Rotate deletes it.
//
// The first key of an empty store signs at once: no verifier can have
// cached a JWKS without it. Keys are numbered by generation and a store
// holds one key per generation, so replicas that rotate at the same moment
// agree on one key: the first Add wins, the others get ErrConflict and
// read the winner back.
//
// Rotate runs one step of this; Run calls it every PublishAhead/4, which
// every replica must do to see the keys others add. A KeyRing is a
// jwt.KeySource (a verifier in the same process reads its keys without
// HTTP) and the SigningKeys of a Minter. It is safe for concurrent use.
type KeyRing struct {
	cfg  KeyRingConfig
	mu   sync.Mutex // serialises Rotate
	snap atomic.Pointer[ringSnapshot]
	ver  atomic.Uint64
}

// ringSnapshot is the immutable state requests read.
type ringSnapshot struct {
	version uint64
	ids     []string
	signers []*ringKey // by generation, ascending
	public  []jwt.StaticKey
}

type ringKey struct {
	rec    KeyRecord
	signer *localSigner
}

// NewKeyRing checks cfg and runs the first Rotate, so that the ring has a
// key to sign with when it returns.
func NewKeyRing(ctx context.Context, cfg KeyRingConfig) (*KeyRing, error) {
	if cfg.Store == nil {
		cfg.Store = &MemoryKeyStore{}
	}
	if cfg.Algorithm == "" {
		cfg.Algorithm = ES256
	}
	switch cfg.Algorithm {
	case ES256, EdDSA, RS256:
	default:
		return nil, fmt.Errorf("issuer: KeyRingConfig.Algorithm %q is not ES256, EdDSA or RS256", cfg.Algorithm)
	}
	for _, d := range []struct {
		name string
		d    *time.Duration
		def  time.Duration
	}{
		{"SignPeriod", &cfg.SignPeriod, DefaultSignPeriod},
		{"PublishAhead", &cfg.PublishAhead, DefaultPublishAhead},
		{"MaxTokenLifetime", &cfg.MaxTokenLifetime, DefaultMaxTokenLifetime},
		{"Leeway", &cfg.Leeway, DefaultKeyLeeway},
	} {
		if *d.d < 0 {
			return nil, fmt.Errorf("issuer: KeyRingConfig.%s is negative", d.name)
		}
		if *d.d == 0 {
			*d.d = d.def
		}
	}
	if cfg.SignPeriod <= 2*cfg.PublishAhead {
		return nil, fmt.Errorf("issuer: KeyRingConfig.SignPeriod (%v) must exceed 2 × PublishAhead (%v)", cfg.SignPeriod, cfg.PublishAhead)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &KeyRing{cfg: cfg}
	if err := r.Rotate(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Rotate reads the store, deletes the keys whose tokens have all expired,
// adds the next key when it is due (or the first), and publishes what the
// store holds. On error the ring keeps its last keys.
func (r *KeyRing) Rotate(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for range 3 { // a lost race to Add is followed by one more read
		recs, err := r.cfg.Store.Keys(ctx)
		if err != nil {
			return fmt.Errorf("issuer: reading signing keys: %w", err)
		}
		now := r.cfg.Now()
		recs, err = r.removeExpired(ctx, recs, now)
		if err != nil {
			return err
		}
		next, due := r.nextKey(recs, now)
		if !due {
			return r.publish(recs)
		}
		der, err := generateKey(r.cfg.Algorithm)
		if err != nil {
			return err
		}
		next.ID, next.Algorithm, next.Private, next.CreatedAt = newKeyID(), r.cfg.Algorithm, der, now
		switch err := r.cfg.Store.Add(ctx, next); {
		case err == nil:
			recs = append(recs, next)
			return r.publish(recs)
		case !stderrors.Is(err, ErrConflict):
			return fmt.Errorf("issuer: adding a signing key: %w", err)
		}
	}
	return stderrors.New("issuer: signing keys keep changing under rotation")
}

// removeExpired deletes every key whose successor started signing more
// than MaxTokenLifetime + Leeway ago.
func (r *KeyRing) removeExpired(ctx context.Context, recs []KeyRecord, now time.Time) ([]KeyRecord, error) {
	slices.SortFunc(recs, func(a, b KeyRecord) int { return cmp.Compare(a.Generation, b.Generation) })
	keep := recs[:0:0]
	for i, k := range recs {
		if i+1 < len(recs) && !now.Before(recs[i+1].NotBefore.Add(r.cfg.MaxTokenLifetime+r.cfg.Leeway)) {
			if err := r.cfg.Store.Delete(ctx, k.ID); err != nil {
				return nil, fmt.Errorf("issuer: removing signing key %q: %w", k.ID, err)
			}
			continue
		}
		keep = append(keep, k)
	}
	return keep, nil
}

// nextKey says whether a key must be added, and its generation and
// NotBefore. recs are sorted by generation.
func (r *KeyRing) nextKey(recs []KeyRecord, now time.Time) (KeyRecord, bool) {
	if len(recs) == 0 {
		return KeyRecord{Generation: 1, NotBefore: now}, true
	}
	last := recs[len(recs)-1]
	if last.NotBefore.After(now) {
		return KeyRecord{}, false // the next key is published and waiting
	}
	end := last.NotBefore.Add(r.cfg.SignPeriod)
	if now.Before(end.Add(-2 * r.cfg.PublishAhead)) {
		return KeyRecord{}, false
	}
	nb := end
	if ahead := now.Add(r.cfg.PublishAhead); nb.Before(ahead) {
		nb = ahead
	}
	return KeyRecord{Generation: last.Generation + 1, NotBefore: nb}, true
}

// publish makes recs (sorted by generation) the ring's keys.
func (r *KeyRing) publish(recs []KeyRecord) error {
	ids := make([]string, len(recs))
	for i, k := range recs {
		ids[i] = k.ID
	}
	old := r.snap.Load()
	if old != nil && slices.Equal(old.ids, ids) {
		return nil
	}
	s := &ringSnapshot{ids: ids}
	for _, k := range recs {
		signer, err := newLocalSigner(k.ID, k.Algorithm, k.Private)
		if err != nil {
			slog.Default().Error("tollgate: signing key unusable", "kid", k.ID, "reason", err)
			continue
		}
		s.signers = append(s.signers, &ringKey{rec: k, signer: signer})
		s.public = append(s.public, jwt.StaticKey{ID: k.ID, Algorithm: k.Algorithm, Public: signer.Public()})
	}
	if len(s.signers) == 0 {
		return stderrors.New("issuer: no usable signing key")
	}
	s.version = r.ver.Add(1)
	r.snap.Store(s)
	return nil
}

// Run calls Rotate every PublishAhead/4 until ctx is done, logging
// failures through slog.Default(); the ring keeps its last keys meanwhile.
func (r *KeyRing) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.PublishAhead / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.Rotate(ctx); err != nil {
				slog.Default().Warn("tollgate: signing key rotation failed", "error", err)
			}
		}
	}
}

// Signer returns the key that signs at now: the newest generation whose
// NotBefore has come. Before any has (replicas whose clocks differ, at
// the very first start) it is the oldest key.
func (r *KeyRing) Signer(now time.Time) (Signer, error) {
	s := r.snap.Load()
	if s == nil || len(s.signers) == 0 {
		return nil, stderrors.New("issuer: no signing key")
	}
	for i := len(s.signers) - 1; i >= 0; i-- {
		if !s.signers[i].rec.NotBefore.After(now) {
			return s.signers[i].signer, nil
		}
	}
	return s.signers[0].signer, nil
}

// MaxTokenLifetime is the longest lifetime a token signed by the ring may
// have.
func (r *KeyRing) MaxTokenLifetime() time.Duration { return r.cfg.MaxTokenLifetime }

// CacheMaxAge is how long a verifier may cache the ring's JWKS:
// PublishAhead. The JWKS handler sends it as Cache-Control max-age.
func (r *KeyRing) CacheMaxAge() time.Duration { return r.cfg.PublishAhead }

// KeysVersion implements jwt.KeySource: it changes whenever the published
// keys do.
func (r *KeyRing) KeysVersion() uint64 {
	if s := r.snap.Load(); s != nil {
		return s.version
	}
	return 0
}

// PublicKeys implements jwt.KeySource: every published key, with its kid
// and alg.
func (r *KeyRing) PublicKeys() []jwt.StaticKey {
	if s := r.snap.Load(); s != nil {
		return slices.Clone(s.public)
	}
	return nil
}
