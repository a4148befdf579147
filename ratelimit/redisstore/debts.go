package redisstore

import (
	"sync"
	"sync/atomic"
)

// maxDebts bounds how many keys can owe Redis requests at once.
const maxDebts = 100_000

// debts are the requests the fallback admitted, per key, that Redis has not
// counted: the key's next decision on Redis takes them from every limit
// before deciding, so the budget the replicas share is charged for every
// request admitted, on Redis or not. A request whose decision timed out
// after Redis ran it is charged twice, which errs toward refusing. A debt
// lapses after the longest Window of the limits it was made under (the
// bucket would have refilled it by then), and keys past maxDebts owe
// nothing: memory stays bounded however long Redis is away.
type debts struct {
	size atomic.Int64 // len(m), read without the lock
	mu   sync.Mutex
	m    map[string]debt
}

// debt is what one key owes: n requests, until the Unix nanosecond until.
type debt struct{ n, until int64 }

// add adds d to key's debt.
func (ds *debts) add(key string, d debt) {
	if d.n <= 0 {
		return
	}
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if ds.m == nil {
		ds.m = map[string]debt{}
	}
	old, ok := ds.m[key]
	if !ok && len(ds.m) >= maxDebts {
		return
	}
	ds.m[key] = debt{n: old.n + d.n, until: max(old.until, d.until)}
	ds.size.Store(int64(len(ds.m)))
}

// take removes and returns key's debt at now (Unix nanoseconds); a lapsed
// one is dropped. With no debts at all it costs one atomic load.
func (ds *debts) take(key string, now int64) debt {
	if ds.size.Load() == 0 {
		return debt{}
	}
	ds.mu.Lock()
	defer ds.mu.Unlock()
	d, ok := ds.m[key]
	if !ok {
		return debt{}
	}
	delete(ds.m, key)
	ds.size.Store(int64(len(ds.m)))
	if now > d.until {
		return debt{}
	}
	return d
}
