package revocation

import (
	"context"
	"crypto/sha256"
	stderrors "errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/principal"
)

// DefaultMaxEntries bounds a Memory whose MemoryConfig.MaxEntries is zero.
const DefaultMaxEntries = 100_000

// DefaultLeeway is how long a revocation outlives its until when a store's
// Leeway is zero. A JWT verifier admits a token up to its own Leeway past
// exp (jwt.Config.Leeway, 30 seconds by default), so a revocation
// that ended at exp would let the revoked token back in for that long.
// Five minutes covers the verifier's default and every usual setting;
// a verifier given a longer Leeway needs the store's raised to match.
const DefaultLeeway = 5 * time.Minute

// sweepInterval is how often a revocation also drops every expired entry, so
// that memory is returned without waiting for the list to fill.
const sweepInterval = time.Minute

// ErrFull is returned by a revocation that a full Memory cannot hold. The
// token is then not revoked; the caller must know.
var ErrFull = stderrors.New("revocation: the in-memory revocation list is full")

// errEmptyID refuses a revocation of the empty ID, which would match every
// token without a jti.
var errEmptyID = stderrors.New("revocation: empty token ID")

// MemoryConfig configures a Memory. The zero value is ready to use.
type MemoryConfig struct {
	// MaxEntries bounds the entries of both sets together. Zero means
	// DefaultMaxEntries (100,000).
	MaxEntries int
	// Leeway keeps every revocation this long past its until, and still
	// records a revocation whose until has passed by less than Leeway: a
	// verifier admits a token until exp plus its own leeway, and the
	// revocation must hold as long. It must be at least the verifier's
	// Leeway (jwt.Config.Leeway). Zero means DefaultLeeway
	// (5 minutes); a negative value means none, for verifiers without
	// leeway.
	Leeway time.Duration
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// leeway resolves a configured Leeway: zero is DefaultLeeway, negative none.
func leeway(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return DefaultLeeway
	case d < 0:
		return 0
	}
	return d
}

// Memory is an in-process revocation list: a set of revoked token IDs, a
// set of revoked token hashes and a set of rules (subjects, clients, grants
// and ended sessions revoked whole), each entry kept until its until time
// plus the Leeway. It is a Checker, safe for concurrent use; checks take
// only a read lock and do not allocate.
type Memory struct {
	now    func() time.Time
	max    int
	leeway time.Duration

	// ids and tokens map an entry to its until in Unix nanoseconds, 0 for
	// never. The counts mirror their lengths so that a check can skip a set
	// that is empty without a lock, and a JWT check can skip hashing.
	mu         sync.RWMutex
	ids        map[string]int64
	tokens     map[[sha256.Size]byte]int64
	idCount    atomic.Int64
	tokenCount atomic.Int64
	nextSweep  time.Time

	// rules are the subjects, clients and grants revoked whole
	// (RevokeRule) and the ended sessions (RevokeSession, under
	// SessionKey, as redisrevocation keeps them); they count towards max.
	rules *Rules
}

var _ Checker = (*Memory)(nil)

// NewMemory returns an empty Memory.
func NewMemory(cfg MemoryConfig) *Memory {
	m := &Memory{
		now:    cfg.Now,
		max:    cfg.MaxEntries,
		leeway: leeway(cfg.Leeway),
		ids:    make(map[string]int64),
		tokens: make(map[[sha256.Size]byte]int64),
		rules:  NewRules(),
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.max <= 0 {
		m.max = DefaultMaxEntries
	}
	return m
}

// RevokeID revokes every token whose Principal.TokenID is jti, until until
// (the token's exp; zero for ever) plus the Leeway. An until more than the
// Leeway in the past does nothing: the verifier refuses the token as expired
// anyway. It returns ErrFull if the list is full of live entries.
func (m *Memory) RevokeID(jti string, until time.Time) error {
	if jti == "" {
		return errEmptyID
	}
	return revoke(m, m.ids, &m.idCount, jti, until)
}

// RevokeToken revokes token itself, until until (the token's exp; zero for
// ever) plus the Leeway. Only its hash is kept: TokenHash, which for a JWT
// covers the signing input, so that every signature of it is revoked too.
// An until more than the Leeway in the past does nothing. It returns ErrFull
// if the list is full of live entries.
func (m *Memory) RevokeToken(token string, until time.Time) error {
	return revoke(m, m.tokens, &m.tokenCount, hashToken(token), until)
}

// RevokeSession revokes every token whose "sid" claim is sid: the access
// tokens of a refresh session that was ended (logout, refresh-token reuse;
// see issuer.SessionsConfig.OnSessionEnded), until until (when the last of
// them expires; zero for ever) plus the Leeway. It returns ErrFull if the
// list is full of live entries.
func (m *Memory) RevokeSession(sid string, until time.Time) error {
	if sid == "" {
		return errEmptyID
	}
	return m.addRule(SessionKey(sid), WindowOf(Rule{Until: until}, m.leeway))
}

func revoke[K comparable](m *Memory, set map[K]int64, count *atomic.Int64, key K, until time.Time) error {
	now := m.now()
	var exp int64
	if !until.IsZero() {
		until = until.Add(m.leeway)
		if !until.After(now) {
			return nil
		}
		exp = until.UnixNano()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old, present := set[key]
	if !present && (m.entries() >= m.max || !now.Before(m.nextSweep)) {
		m.sweep(now)
	}
	switch {
	case present && (old == 0 || exp != 0 && old >= exp):
		// Already revoked for at least as long.
	case present || m.entries() < m.max:
		set[key] = exp
	default:
		return ErrFull
	}
	count.Store(int64(len(set)))
	return nil
}

// entries counts the entries of every kind. m.mu must be held.
func (m *Memory) entries() int { return len(m.ids) + len(m.tokens) + m.rules.Len() }

// RevokeRule revokes every token r matches (see Rule): a subject's or a
// client's tokens issued before r.Before, a grant, or, with a zero Before, a
// suspension. A rule whose Until plus the Leeway has passed
// does nothing. It returns ErrBadRule for a rule that names nothing and
// ErrFull if the list is full of live entries.
func (m *Memory) RevokeRule(r Rule) error {
	if err := r.Validate(); err != nil {
		return err
	}
	return m.addRule(r.Key(), WindowOf(r, m.leeway))
}

// addRule files w under k in m.rules, widening a rule there, unless w has
// ended already. A new rule needs room among max entries.
func (m *Memory) addRule(k RuleKey, w Window) error {
	now := m.now()
	if w.Ended(now.UnixMilli()) {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries() >= m.max && !m.rules.has(k) {
		m.sweep(now)
		if m.entries() >= m.max {
			return ErrFull
		}
	}
	m.rules.Add(k, w)
	return nil
}

// LiftRule removes the rule with r's Subject and Client, whatever its
// Before and Until: a suspended subject or client is resumed, a revoked
// grant may be used again by tokens it had revoked that are still alive. It returns ErrBadRule for a rule that names nothing.
func (m *Memory) LiftRule(r Rule) error {
	if err := r.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rules.Lift(r.Key())
	return nil
}

// sweep drops every expired entry. m.mu must be held.
func (m *Memory) sweep(now time.Time) {
	n := now.UnixNano()
	for k, exp := range m.ids {
		if exp != 0 && exp <= n {
			delete(m.ids, k)
		}
	}
	for k, exp := range m.tokens {
		if exp != 0 && exp <= n {
			delete(m.tokens, k)
		}
	}
	m.idCount.Store(int64(len(m.ids)))
	m.tokenCount.Store(int64(len(m.tokens)))
	m.rules.Sweep(now.UnixMilli())
	m.nextSweep = now.Add(sweepInterval)
}

// Revoked reports whether p.TokenID, p's "sid" claim or token has been
// revoked, or a rule matches p, and the revocation has not expired. It
// never returns an error. It hashes token only when some token was revoked
// by hash, reads the clock only when an entry or a rule was found, and does
// not allocate.
func (m *Memory) Revoked(_ context.Context, token string, p *principal.Principal) (bool, error) {
	if m.rules.Len() > 0 && m.rules.Match(p, m.now) {
		return true, nil
	}
	if p != nil && p.TokenID() != "" && m.idCount.Load() > 0 {
		m.mu.RLock()
		exp, ok := m.ids[p.TokenID()]
		m.mu.RUnlock()
		if ok && m.live(exp) {
			return true, nil
		}
	}
	if m.tokenCount.Load() > 0 {
		key := hashToken(token)
		m.mu.RLock()
		exp, ok := m.tokens[key]
		m.mu.RUnlock()
		if ok && m.live(exp) {
			return true, nil
		}
	}
	return false, nil
}

// live reports whether an entry that expires at exp still holds. The clock
// is read only here, for entries found.
func (m *Memory) live(exp int64) bool {
	return exp == 0 || m.now().UnixNano() < exp
}

// Len returns the number of entries held, expired ones not yet dropped
// included.
func (m *Memory) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.entries()
}
