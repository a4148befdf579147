package ipfilter

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
)

// MemoryAccounts is an AccountLookup held in memory: each account's
// allow-list, replaced as a whole by Set. The zero value is ready to use and
// holds no lists (every account unrestricted). It is safe for concurrent
// use; lookups take a read lock and do not allocate.
type MemoryAccounts struct {
	mu    sync.RWMutex
	lists map[string][]netip.Prefix
}

// Set replaces account's allow-list with entries, each a single address or
// a canonical CIDR prefix (see ParsePrefix). With no entries the account
// becomes unrestricted. If any entry is invalid, Set returns an error naming
// it and leaves the account's list as it was.
func (m *MemoryAccounts) Set(account string, entries ...string) error {
	ps, err := parsePrefixes("entries", entries)
	if err != nil {
		return fmt.Errorf("ipfilter: account %q: %w", account, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(ps) == 0 {
		delete(m.lists, account)
		return nil
	}
	if m.lists == nil {
		m.lists = make(map[string][]netip.Prefix)
	}
	m.lists[account] = ps
	return nil
}

// AllowList returns account's entries, nil if it has none. It never fails.
func (m *MemoryAccounts) AllowList(_ context.Context, account string) ([]netip.Prefix, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.lists[account], nil
}
