package bench

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/tollgate/tollgate/principal"
)

// handChain is the floor the cached chain is measured against: the same
// work done by hand, with nothing configurable, in one handler. It makes
// the request's context node and copy (the 2 allocations any
// context-passing middleware pays), parses RemoteAddr and checks it
// against the same four prefixes, reads the Authorization header, looks
// the token up in a map under a read lock and checks its expiry against
// the clock, builds the rate-limit key string ("client:" + client id, the
// third allocation), takes a token from that key's bucket under a mutex
// (reading the clock again), sets the five rate-limit headers from values
// built beforehand, and checks the scope.
type handChain struct {
	allow []netip.Prefix

	mu     sync.RWMutex
	tokens map[string]*handEntry

	bucketMu sync.Mutex
	buckets  map[string]*handBucket

	limit, remaining, reset, policy, rateLimit []string

	next http.Handler
}

type handEntry struct {
	p   *principal.Principal
	exp time.Time
}

type handBucket struct {
	tokens float64
	last   time.Time
}

type handKey struct{}

// handState is what the context node carries, as reqstate's node does.
type handState struct {
	p  *principal.Principal
	ip netip.Addr
}

func newHandChain(token string, p *principal.Principal, next http.Handler) *handChain {
	h := &handChain{
		tokens:    map[string]*handEntry{strings.Clone(token): {p: p, exp: p.ExpiresAt()}},
		buckets:   map[string]*handBucket{},
		limit:     []string{"1073741824"},
		remaining: []string{"1073741823"},
		reset:     []string{"1"},
		policy:    []string{`"default";q=1073741824;w=1`},
		rateLimit: []string{`"default";r=1073741823;t=1`},
		next:      next,
	}
	for _, s := range []string{"10.0.0.0/8", "192.0.2.0/24", "198.51.100.7/32", "2001:db8::/32"} {
		h.allow = append(h.allow, netip.MustParsePrefix(s))
	}
	return h
}

type handNode struct {
	context.Context
	state handState
}

func (n *handNode) Value(k any) any {
	if k == (handKey{}) {
		return &n.state
	}
	return n.Context.Value(k)
}

func (h *handChain) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := &handNode{Context: r.Context()}
	r = r.WithContext(n)

	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	allowed := false
	for _, p := range h.allow {
		if p.Contains(ap.Addr()) {
			allowed = true
			break
		}
	}
	if !allowed {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	n.state.ip = ap.Addr()

	auth := r.Header["Authorization"]
	if len(auth) != 1 || len(auth[0]) < 7 || !strings.EqualFold(auth[0][:7], "Bearer ") {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	h.mu.RLock()
	e := h.tokens[auth[0][7:]]
	h.mu.RUnlock()
	if e == nil || !time.Now().Before(e.exp) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	n.state.p = e.p

	key := "client:" + e.p.ClientID()
	h.bucketMu.Lock()
	b := h.buckets[key]
	now := time.Now()
	if b == nil {
		b = &handBucket{tokens: 1 << 30, last: now}
		h.buckets[key] = b
	}
	b.tokens = min(b.tokens+now.Sub(b.last).Seconds()*(1<<30), 1<<30)
	b.last = now
	ok := b.tokens >= 1
	if ok {
		b.tokens--
	}
	h.bucketMu.Unlock()
	hd := w.Header()
	hd["X-Ratelimit-Limit"] = h.limit
	hd["X-Ratelimit-Remaining"] = h.remaining
	hd["X-Ratelimit-Reset"] = h.reset
	hd["Ratelimit-Policy"] = h.policy
	hd["Ratelimit"] = h.rateLimit
	if !ok {
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}

	if !e.p.HasScope(requiredScope) {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	h.next.ServeHTTP(w, r)
}
