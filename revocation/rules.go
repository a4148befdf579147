package revocation

import (
	stderrors "errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/principal"
)

// A Rule revokes many tokens at once, without knowing them: every token of a
// subject, of a client, or of a subject through one client (a grant). It is
// matched against the verified principal on every request. (The tokens of
// one refresh session are revoked by RevokeSession, which stores keep with
// their rules under SessionKey.)
//
//   - Subject: Principal.Subject, "sub". With Before: a password change or
//     "sign out everywhere". Without: a suspended user.
//   - Client: Principal.ClientID. With Before: a rotated client secret.
//     Without: a suspended client application.
//   - Subject and Client together: a grant, the tokens a user's consent gave
//     one application ("the user revoked the app").
//
// Subjects and clients are matched exactly and are not scoped by
// issuer, as token IDs are not: should two issuers share a subject, a rule
// refuses both, which errs on the safe side.
//
// Before limits the rule to tokens issued before it (their "iat"); a token
// without "iat" is matched by every rule, since it cannot show that it came
// after. A zero Before matches every token, whenever issued: a suspension,
// which holds for tokens issued later too, until the rule is lifted.
//
// Until is when the rule may be forgotten: the moment the last token it
// revokes expires, normally Before plus the longest token lifetime (for a
// session, its last access token's exp). It is kept for the store's Leeway
// past Until, as single revocations are. A zero Until keeps the rule until
// it is lifted (LiftRule): a suspension.
//
// Two rules with the same Subject and Client are one rule: adding
// the second widens the first (the later Before, a zero Before over any,
// the later Until, a zero Until over any), and lifting removes it whole.
type Rule struct {
	Subject string
	Client  string
	Before  time.Time
	Until   time.Time
}

// ErrBadRule refuses a rule that names neither a subject nor a client.
var ErrBadRule = stderrors.New("revocation: a rule names a subject, a client or both")

// Validate reports whether r names what it revokes: a Subject, a Client or
// both.
func (r Rule) Validate() error {
	if r.Subject == "" && r.Client == "" {
		return ErrBadRule
	}
	return nil
}

// RuleKey is what identifies a rule: its Subject and Client; or, for an
// ended session kept in the same set (redisrevocation does), its Session
// alone (see SessionKey).
type RuleKey struct {
	Session, Subject, Client string
}

// SessionKey is the key under which a store that keeps ended sessions in
// its Rules files the session sid: every token whose "sid" claim is sid is
// revoked while the window holds.
func SessionKey(sid string) RuleKey { return RuleKey{Session: sid} }

// Key returns r's key.
func (r Rule) Key() RuleKey { return RuleKey{Subject: r.Subject, Client: r.Client} }

// Window is a rule's reach in Unix milliseconds: tokens issued before
// Before (0: every token) are revoked until Until (0: until lifted). Stores
// that persist rules keep them in this form.
type Window struct {
	Before, Until int64
}

// WindowOf returns r's window, Until extended by leeway. Before is rounded
// up and Until up, so that a rule revokes at least what it says.
func WindowOf(r Rule, leeway time.Duration) Window {
	var w Window
	if !r.Before.IsZero() {
		w.Before = ceilMillis(r.Before)
	}
	if !r.Until.IsZero() {
		w.Until = ceilMillis(r.Until.Add(leeway))
	}
	return w
}

func ceilMillis(t time.Time) int64 {
	return (t.UnixNano() + int64(time.Millisecond) - 1) / int64(time.Millisecond)
}

// Widen returns the window that reaches as far as both w and o.
func (w Window) Widen(o Window) Window {
	if w.Before != 0 && (o.Before == 0 || o.Before > w.Before) {
		w.Before = o.Before
	}
	if w.Until != 0 && (o.Until == 0 || o.Until > w.Until) {
		w.Until = o.Until
	}
	return w
}

// Ended reports whether the window has ended at now (Unix ms).
func (w Window) Ended(nowMillis int64) bool { return w.Until != 0 && w.Until <= nowMillis }

// Rules is a set of rules checked on the request path: Match takes a read
// lock and makes no allocation, and skips everything with one atomic load
// while the set is empty. Memory keeps its rules in one; redisrevocation
// keeps a local copy of the shared set in one. Safe for concurrent use.
type Rules struct {
	mu    sync.RWMutex
	set   map[RuleKey]Window
	count atomic.Int64

	// sessions, subjects, clients and grants count the rules of each
	// shape, so Match looks up only the shapes that exist.
	sessions, subjects, clients, grants int
}

// NewRules returns an empty set.
func NewRules() *Rules { return &Rules{set: map[RuleKey]Window{}} }

// Len returns the number of rules.
func (rs *Rules) Len() int { return int(rs.count.Load()) }

// Add adds a rule's window under k, widening one already there.
func (rs *Rules) Add(k RuleKey, w Window) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if old, ok := rs.set[k]; ok {
		rs.set[k] = old.Widen(w)
		return
	}
	rs.set[k] = w
	rs.counted(k, 1)
}

// has reports whether a rule is filed under k.
func (rs *Rules) has(k RuleKey) bool {
	rs.mu.RLock()
	defer rs.mu.RUnlock()
	_, ok := rs.set[k]
	return ok
}

// Lift removes the rule under k.
func (rs *Rules) Lift(k RuleKey) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if _, ok := rs.set[k]; ok {
		delete(rs.set, k)
		rs.counted(k, -1)
	}
}

// Replace makes set the whole set of rules (a copy loaded from a shared
// store). The map is kept, not copied.
func (rs *Rules) Replace(set map[RuleKey]Window) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.set = set
	rs.sessions, rs.subjects, rs.clients, rs.grants = 0, 0, 0, 0
	rs.count.Store(0)
	for k := range set {
		rs.counted(k, 1)
	}
}

// Sweep drops the rules that ended before now (Unix ms).
func (rs *Rules) Sweep(nowMillis int64) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for k, w := range rs.set {
		if w.Ended(nowMillis) {
			delete(rs.set, k)
			rs.counted(k, -1)
		}
	}
}

// counted updates the counts for one rule added (1) or removed (-1). rs.mu
// must be held.
func (rs *Rules) counted(k RuleKey, d int) {
	switch {
	case k.Session != "":
		rs.sessions += d
	case k.Subject != "" && k.Client != "":
		rs.grants += d
	case k.Subject != "":
		rs.subjects += d
	default:
		rs.clients += d
	}
	rs.count.Add(int64(d))
}

// Match reports whether a rule in force now revokes the token p stands for.
// It makes no allocation, and reads the clock (now) only for a rule it
// finds.
func (rs *Rules) Match(p *principal.Principal, now func() time.Time) bool {
	if p == nil || rs.count.Load() == 0 {
		return false
	}
	var iat int64 = -1 // no iat: before every Before
	if t := p.IssuedAt(); !t.IsZero() {
		iat = t.UnixMilli()
	}
	sub, client := p.Subject(), p.ClientID()
	rs.mu.RLock()
	defer rs.mu.RUnlock()
	hit := func(k RuleKey) bool {
		w, ok := rs.set[k]
		return ok && (w.Before == 0 || iat < w.Before) && !w.Ended(now().UnixMilli())
	}
	if rs.sessions > 0 {
		if sid := p.StringClaim("sid"); sid != "" && hit(RuleKey{Session: sid}) {
			return true
		}
	}
	if rs.subjects > 0 && sub != "" && hit(RuleKey{Subject: sub}) {
		return true
	}
	if rs.clients > 0 && client != "" && hit(RuleKey{Client: client}) {
		return true
	}
	return rs.grants > 0 && sub != "" && client != "" && hit(RuleKey{Subject: sub, Client: client})
}
