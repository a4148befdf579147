package apikey

import (
	"context"
	"time"
)

// Store keeps keys and the hashes of their secrets. Implementations must be
// safe for concurrent use; MemoryStore in this package keeps them in the
// process, apikey/pgstore in PostgreSQL. Keys and hashes a store returns are
// the caller's to change.
//
// Any error other than the ErrNotFound, ErrConflict and ErrExhausted it
// documents is treated as the store being unavailable: verification
// refuses with unavailable (503), never admits.
type Store interface {
	// Insert stores a new key with the hash of its secret. ErrConflict if
	// the id or the digest is taken.
	Insert(ctx context.Context, k *Key, h Hash) error
	// Lookup returns the key that owns one of digests (a token's digest
	// under each pepper), with the matching hash. ErrNotFound if none
	// does. It is the query of a cache miss: one indexed lookup.
	Lookup(ctx context.Context, digests []Digest) (*Key, Hash, error)
	// Get returns the key id. ErrNotFound if there is none.
	Get(ctx context.Context, id string) (*Key, error)
	// List returns up to q.Limit keys of q.Owner whose id is greater than
	// q.After, in id order (creation order).
	List(ctx context.Context, q ListQuery) ([]*Key, error)
	// Update changes key id atomically: it reads the key and its hashes,
	// locks them against concurrent Updates, calls fn with a copy of both,
	// and stores the key fn changed and the hashes it returns, with
	// Version incremented. Owner, Prefix, CreatedAt and LastUsedAt are
	// kept as stored. If fn fails, nothing is written and its error is
	// returned. ErrNotFound if there is no such key.
	Update(ctx context.Context, id string, fn func(k *Key, hashes []Hash) ([]Hash, error)) (*Key, error)
	// Consume takes one use from a key with RemainingUses and returns how
	// many are left; ErrExhausted if none were, ErrNotFound if the key is
	// gone. A key without RemainingUses is not changed and reports -1.
	Consume(ctx context.Context, id string) (remaining int64, err error)
	// Touch records when keys were last used. It skips a key whose
	// stored LastUsedAt is within minInterval before the new time, so
	// replicas sharing a store write each key at most once per interval.
	Touch(ctx context.Context, uses []Use, minInterval time.Duration) error
}

// Watcher is a Store that tells every replica when a key changes, so that
// a deactivation or a permission change made through one replica is seen
// by all of them at once rather than when their caches expire. MemoryStore
// and pgstore (LISTEN/NOTIFY) implement it.
type Watcher interface {
	// Watch calls changed with the id of each key changed through any
	// replica, from when it is subscribed until ctx is done, and returns
	// ctx's error then. It calls changed("") whenever it (re)subscribes,
	// the first time included: changes may have been missed, and the
	// caller drops everything it cached. It reconnects by itself.
	Watch(ctx context.Context, changed func(id string)) error
}

// ListQuery selects a page of one owner's keys.
type ListQuery struct {
	// Owner is the Owner.ID whose keys are listed. Required.
	Owner string
	// After is the id of the last key of the previous page; "" for the
	// first page.
	After string
	// Limit is the page size, 1 to 1000.
	Limit int
}

// Use is one key's last verification time, for Store.Touch.
type Use struct {
	ID string
	At time.Time
}
