package jwt

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
)

// KeySource gives an issuer's public keys from inside the process, for a
// service that verifies the tokens it mints itself: Issuer.KeySource reads
// them here instead of fetching the service's own JWKS over HTTP.
//
// Every key is checked as a fetched key is (see Verifier): one that fails
// verifies nothing and is logged with its kid, and the source's other keys
// go on working. A key whose Algorithm is not in the issuer's Algorithms is
// dropped the same way. A KeySource must be safe for concurrent use.
type KeySource interface {
	// KeysVersion is a number that changes whenever the keys do. It is
	// called for every token the verified-token cache does not answer, and
	// for every cached answer, so it must be cheap (an atomic load) and
	// must not allocate.
	KeysVersion() uint64
	// PublicKeys returns the keys that verify now. It is called only when
	// KeysVersion has changed; the verifier keeps no reference to the
	// returned slice.
	PublicKeys() []StaticKey
}

// localKeys holds the checked keys of an issuer's KeySource, rebuilt when
// the source's version changes, so that a rotation is seen by the next
// token without a restart and without a fetch.
type localKeys struct {
	src  KeySource
	algs []*jwsAlgorithm
	mu   sync.Mutex // serialises rebuilds
	cur  atomic.Pointer[localSet]
}

type localSet struct {
	version uint64
	set     *keySet
}

// current returns the key set for the source's current version.
func (l *localKeys) current() *keySet {
	v := l.src.KeysVersion()
	if s := l.cur.Load(); s != nil && s.version == v {
		return s.set
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	v = l.src.KeysVersion()
	old := l.cur.Load()
	if old != nil && old.version == v {
		return old.set
	}
	set := &keySet{gen: nextKeySetGen()}
	for _, sk := range l.src.PublicKeys() {
		k, err := staticKey(sk)
		if err != nil {
			continue // staticKey logged it
		}
		if k.alg != "" && !slices.ContainsFunc(l.algs, func(a *jwsAlgorithm) bool { return a.name == k.alg }) ||
			!slices.ContainsFunc(l.algs, k.suits) {
			slog.Default().Error("tollgate: in-process key refused", "kid", sk.ID, "reason", "no algorithm of the issuer suits it")
			continue
		}
		if k.kid != "" && set.byID(k.kid) != nil {
			slog.Default().Error("tollgate: in-process key refused", "kid", sk.ID, "reason", "key ID used twice")
			continue
		}
		set.keys = append(set.keys, k)
	}
	if old != nil && old.set.sameKeys(set) {
		set = old.set // same keys: cached tokens stay valid
	}
	l.cur.Store(&localSet{version: v, set: set})
	return set
}

// key finds the key for the token's kid and alg in the source's current keys.
func (l *localKeys) key(h jwsHeader, a *jwsAlgorithm) (*verifyKey, uint64, error) {
	set := l.current()
	if k := set.find(h.kid, h.hasKID, a); k != nil {
		return k, set.gen, nil
	}
	return nil, 0, refuseInvalid(fmt.Errorf("%w: kid %q, alg %s", errJWTNoKey, h.kid, a.name))
}

// valid reports whether a token cached under generation gen may still be
// answered from the cache: the source has not changed its keys since. A
// new version with the same keys keeps gen (see current), so its tokens
// stay cached; the first hit after a version change rebuilds the set.
func (l *localKeys) valid(gen uint64) bool {
	return l.current().gen == gen
}
