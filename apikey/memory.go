package apikey

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// MemoryStore is a Store and Watcher in the process's memory, for tests and
// for a single replica that may lose its keys on restart (the quickstart).
// Several Keys sharing one MemoryStore behave as replicas sharing a
// database: each sees the others' changes through Watch. The zero value is
// not usable; call NewMemoryStore.
type MemoryStore struct {
	mu       sync.Mutex
	keys     map[string]*memoryRecord
	byDigest map[Digest]string
	watchers map[int]func(string)
	nextW    int
}

type memoryRecord struct {
	key    *Key
	hashes []Hash
}

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		keys:     map[string]*memoryRecord{},
		byDigest: map[Digest]string{},
		watchers: map[int]func(string){},
	}
}

// Insert implements Store.
func (m *MemoryStore) Insert(ctx context.Context, k *Key, h Hash) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.keys[k.ID]; ok {
		return ErrConflict
	}
	if _, ok := m.byDigest[h.Digest]; ok {
		return ErrConflict
	}
	m.keys[k.ID] = &memoryRecord{key: k.Clone(), hashes: []Hash{h}}
	m.byDigest[h.Digest] = k.ID
	return nil
}

// Lookup implements Store.
func (m *MemoryStore) Lookup(ctx context.Context, digests []Digest) (*Key, Hash, error) {
	if err := ctx.Err(); err != nil {
		return nil, Hash{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range digests {
		id, ok := m.byDigest[d]
		if !ok {
			continue
		}
		r := m.keys[id]
		for _, h := range r.hashes {
			if h.Digest == d {
				return r.key.Clone(), h, nil
			}
		}
	}
	return nil, Hash{}, ErrNotFound
}

// Get implements Store.
func (m *MemoryStore) Get(ctx context.Context, id string) (*Key, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.keys[id]
	if !ok {
		return nil, ErrNotFound
	}
	return r.key.Clone(), nil
}

// List implements Store.
func (m *MemoryStore) List(ctx context.Context, q ListQuery) ([]*Key, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Key
	for _, r := range m.keys {
		if r.key.Owner.ID == q.Owner && r.key.ID > q.After {
			out = append(out, r.key)
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.Compare(out[i].ID, out[j].ID) < 0 })
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	for i, k := range out {
		out[i] = k.Clone()
	}
	return out, nil
}

// Update implements Store.
func (m *MemoryStore) Update(ctx context.Context, id string, fn func(k *Key, hashes []Hash) ([]Hash, error)) (*Key, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	r, ok := m.keys[id]
	if !ok {
		m.mu.Unlock()
		return nil, ErrNotFound
	}
	k := r.key.Clone()
	hashes, err := fn(k, slices.Clone(r.hashes))
	if err != nil {
		m.mu.Unlock()
		return nil, err
	}
	for _, h := range hashes {
		if other, taken := m.byDigest[h.Digest]; taken && other != id {
			m.mu.Unlock()
			return nil, ErrConflict
		}
	}
	k.ID, k.Owner, k.Prefix, k.CreatedAt, k.LastUsedAt = r.key.ID, r.key.Owner, r.key.Prefix, r.key.CreatedAt, r.key.LastUsedAt
	k.Version = r.key.Version + 1
	for _, h := range r.hashes {
		delete(m.byDigest, h.Digest)
	}
	for _, h := range hashes {
		m.byDigest[h.Digest] = id
	}
	r.key, r.hashes = k.Clone(), slices.Clone(hashes)
	watchers := m.watchersLocked()
	m.mu.Unlock()
	for _, w := range watchers {
		w(id)
	}
	return k, nil
}

// Consume implements Store.
func (m *MemoryStore) Consume(ctx context.Context, id string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.keys[id]
	if !ok {
		return 0, ErrNotFound
	}
	if r.key.RemainingUses == nil {
		return -1, nil
	}
	if *r.key.RemainingUses <= 0 {
		return 0, ErrExhausted
	}
	n := *r.key.RemainingUses - 1
	r.key.RemainingUses = &n
	return n, nil
}

// Touch implements Store.
func (m *MemoryStore) Touch(ctx context.Context, uses []Use, minInterval time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, u := range uses {
		r, ok := m.keys[u.ID]
		if !ok {
			continue
		}
		if last := r.key.LastUsedAt; last.IsZero() || !u.At.Before(last.Add(minInterval)) {
			r.key.LastUsedAt = u.At
		}
	}
	return nil
}

// Watch implements Watcher: changed is called, synchronously, by every
// Update made through any Keys sharing the store.
func (m *MemoryStore) Watch(ctx context.Context, changed func(id string)) error {
	m.mu.Lock()
	n := m.nextW
	m.nextW++
	m.watchers[n] = changed
	m.mu.Unlock()
	changed("")
	<-ctx.Done()
	m.mu.Lock()
	delete(m.watchers, n)
	m.mu.Unlock()
	return ctx.Err()
}

func (m *MemoryStore) watchersLocked() []func(string) {
	out := make([]func(string), 0, len(m.watchers))
	for _, w := range m.watchers {
		out = append(out, w)
	}
	return out
}
