package issuer

import (
	"context"
	stderrors "errors"
	"slices"
	"sync"
	"time"
)

// ErrConflict is returned by a store asked to add what another caller
// added first: a signing key of the same generation, a client of the same
// id. For keys it is how replicas agree on one key per generation.
var ErrConflict = stderrors.New("issuer: already exists")

// ErrNotFound is returned by a store for an id it does not hold.
var ErrNotFound = stderrors.New("issuer: not found")

// KeyRecord is one signing key as a KeyStore keeps it. A key is published
// in the JWKS from its creation, signs from NotBefore until the next
// generation's NotBefore, and is removed once every token it signed has
// expired (see KeyRing).
type KeyRecord struct {
	ID        string
	Algorithm string
	// Generation numbers the keys of a ring 1, 2, 3, …: at most one key
	// per generation, which is what lets replicas that rotate at the same
	// moment agree on one key.
	Generation int64
	Private    PrivateKey
	CreatedAt  time.Time
	NotBefore  time.Time
}

// KeyStore keeps a KeyRing's signing keys, so that every replica signs with
// the same current key and tokens survive restarts. It must be safe for
// concurrent use.
type KeyStore interface {
	// Keys returns every key held, in any order.
	Keys(ctx context.Context) ([]KeyRecord, error)
	// Add stores k, or returns ErrConflict if a key of k's Generation (or
	// ID) is held already.
	Add(ctx context.Context, k KeyRecord) error
	// Delete removes the key with this id; removing a missing key is not
	// an error.
	Delete(ctx context.Context, id string) error
}

// MemoryKeyStore is a KeyStore in memory, for one process and for tests:
// its keys die with the process, so every restart starts a new key and
// tokens signed before no longer verify. The zero value is ready to use.
type MemoryKeyStore struct {
	mu   sync.Mutex
	keys []KeyRecord
}

// Keys returns copies of the keys held.
func (m *MemoryKeyStore) Keys(context.Context) ([]KeyRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Clone(m.keys)
	for i := range out {
		out[i].Private = slices.Clone(out[i].Private)
	}
	return out, nil
}

// Add stores a copy of k.
func (m *MemoryKeyStore) Add(_ context.Context, k KeyRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.keys {
		if o.Generation == k.Generation || o.ID == k.ID {
			return ErrConflict
		}
	}
	k.Private = slices.Clone(k.Private)
	m.keys = append(m.keys, k)
	return nil
}

// Delete removes the key with this id.
func (m *MemoryKeyStore) Delete(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys = slices.DeleteFunc(m.keys, func(k KeyRecord) bool { return k.ID == id })
	return nil
}
