package redisrevocation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	stderrors "errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/revocation"
)

// Rules (revocation.Rule: subjects, clients and grants revoked whole)
// live in one hash, {prefix}rules, one field per rule, beside a version,
// {prefix}rules:v, that every change sets to a fresh random value. Each
// Store keeps a local copy of the hash and matches rules against it, in
// memory. Every check reads the version in the MGET it makes anyway; a
// version (or epoch) other than the copy's makes that check reload the hash
// first, one reload at a time per Store, under the check's timeout. A rule
// thus takes effect on every replica from its next check on, and costs a
// check no round trip of its own. A missing version key with an empty
// local copy is taken for "no rules" without a reload.

// addRule widens (or writes) the rule of field ARGV[1] to the window
// ARGV[2] ARGV[3] and sets the version to ARGV[4], a fresh random value:
// a counter could come back to a value a replica holds (a restore from an
// older snapshot under the same epoch) with other rules behind it. Windows are "before until" in
// Unix milliseconds, 0 for none, as revocation.Window.Widen merges them.
var addRule = redis.NewScript(`
local b = tonumber(ARGV[2])
local u = tonumber(ARGV[3])
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local sp = string.find(cur, ' ', 1, true)
  local cb = tonumber(string.sub(cur, 1, sp - 1))
  local cu = tonumber(string.sub(cur, sp + 1))
  if b ~= 0 and (cb == 0 or cb > b) then b = cb end
  if u ~= 0 and (cu == 0 or cu > u) then u = cu end
end
redis.call('HSET', KEYS[1], ARGV[1], string.format('%.0f %.0f', b, u))
local old = redis.call('GET', KEYS[2]) or '0'
redis.call('SET', KEYS[2], ARGV[4])
return old
`)

// liftRule removes the rule of field ARGV[1] and sets the version to
// ARGV[2], a fresh random value.
var liftRule = redis.NewScript(`
redis.call('HDEL', KEYS[1], ARGV[1])
local old = redis.call('GET', KEYS[2]) or '0'
redis.call('SET', KEYS[2], ARGV[2])
return old
`)

// dropEnded removes each field ARGV[2i-1] that still holds the value
// ARGV[2i] it was read with: a rule written again since (by another
// replica, between the read and this) is kept.
var dropEnded = redis.NewScript(`
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i+1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return 1
`)

// newVersion returns a fresh random rules version.
func newVersion() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// loadRules returns the epoch (KEYS[3]), the version and every rule, read at
// one moment.
var loadRules = redis.NewScript(`
return {redis.call('GET', KEYS[3]) or '', redis.call('GET', KEYS[2]) or '0', redis.call('HGETALL', KEYS[1])}
`)

// RevokeRule revokes, on every replica, every token r matches (see
// revocation.Rule): a subject's or a client's tokens issued before r.Before, a grant, or, with a zero Before, a suspension. The rule
// is kept in Redis until r.Until plus the Leeway (zero Until: until
// LiftRule). A rule whose Until plus the Leeway has passed does nothing. The
// write is bounded by ctx; on success this Store applies the rule at once and
// every other from its next check.
func (s *Store) RevokeRule(ctx context.Context, r revocation.Rule) error {
	if err := r.Validate(); err != nil {
		return err
	}
	w := revocation.WindowOf(r, s.leeway)
	if w.Ended(s.now().UnixMilli()) {
		return nil
	}
	return s.addRule(ctx, r.Key(), w)
}

// RevokeSession revokes, on every replica, every token whose "sid" claim is
// sid: the access tokens of an ended refresh session (logout, refresh-token
// reuse; see issuer.SessionsConfig.OnSessionEnded), until until (when the
// last of them expires; zero for ever) plus the Leeway. Ended sessions are
// kept with the rules, so a check matches them in memory, without a key of
// their own to read. The write is bounded by ctx.
func (s *Store) RevokeSession(ctx context.Context, sid string, until time.Time) error {
	if sid == "" {
		return errEmptyID
	}
	w := revocation.WindowOf(revocation.Rule{Until: until}, s.leeway)
	if w.Ended(s.now().UnixMilli()) {
		return nil
	}
	return s.addRule(ctx, revocation.SessionKey(sid), w)
}

// addRule writes the rule k (widening one there) and applies it to the
// local copy; the copy stays current if no other change came between.
func (s *Store) addRule(ctx context.Context, k revocation.RuleKey, w revocation.Window) error {
	version := newVersion()
	old, err := addRule.Run(ctx, s.client, []string{s.rulesKey, s.versionKey}, ruleField(k), w.Before, w.Until, version).Text()
	if err != nil {
		return fmt.Errorf("redisrevocation: revoking: %w", err)
	}
	s.rules.Add(k, w)
	s.advanced(old, version)
	return nil
}

// advanced moves the local copy's version from old to version after a
// change this Store made and applied itself, if the copy was at old: then
// it holds exactly what Redis holds, and the next check need not reload.
func (s *Store) advanced(old, version string) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	switch l := s.loaded.Load(); {
	case l != nil && l.version == old:
		s.loaded.Store(&loadedState{l.epoch, version})
	case l == nil && old == "0" && s.rules.Len() == 1:
		// The first rule ever, on a Store that has not checked yet: the
		// copy is the whole set. The epoch is learnt at the next check.
		s.loaded.Store(&loadedState{"", version})
	}
}

// LiftRule removes, on every replica, the rule with r's Subject and Client, whatever its Before and Until: a suspended subject or client is
// resumed. The write is bounded by ctx.
func (s *Store) LiftRule(ctx context.Context, r revocation.Rule) error {
	if err := r.Validate(); err != nil {
		return err
	}
	version := newVersion()
	old, err := liftRule.Run(ctx, s.client, []string{s.rulesKey, s.versionKey}, ruleField(r.Key()), version).Text()
	if err != nil {
		return fmt.Errorf("redisrevocation: lifting a rule: %w", err)
	}
	s.rules.Lift(r.Key())
	s.advanced(old, version)
	return nil
}

// ruleField encodes a rule's key as its hash field: a letter for its shape
// and its parts, each but the last prefixed by its length, so no choice of
// subject or client can spell another rule's field.
func ruleField(k revocation.RuleKey) string {
	switch {
	case k.Session != "":
		return "s:" + k.Session
	case k.Subject != "" && k.Client != "":
		return "g:" + strconv.Itoa(len(k.Subject)) + ":" + k.Subject + k.Client
	case k.Subject != "":
		return "u:" + k.Subject
	}
	return "c:" + k.Client
}

var errBadField = stderrors.New("a rule field or window that this version cannot read")

// parseRule decodes a hash field and its value.
func parseRule(field, value string) (revocation.RuleKey, revocation.Window, error) {
	var k revocation.RuleKey
	var w revocation.Window
	b, u, ok := strings.Cut(value, " ")
	if !ok {
		return k, w, errBadField
	}
	var err1, err2 error
	w.Before, err1 = strconv.ParseInt(b, 10, 64)
	w.Until, err2 = strconv.ParseInt(u, 10, 64)
	if err1 != nil || err2 != nil || len(field) < 3 || field[1] != ':' {
		return k, w, errBadField
	}
	rest := field[2:]
	switch field[0] {
	case 's':
		k.Session = rest
	case 'u':
		k.Subject = rest
	case 'c':
		k.Client = rest
	case 'g':
		n, tail, ok := strings.Cut(rest, ":")
		l, err := strconv.Atoi(n)
		if !ok || err != nil || l <= 0 || l >= len(tail) {
			return k, w, errBadField
		}
		k.Subject, k.Client = tail[:l], tail[l:]
	default:
		return k, w, errBadField
	}
	return k, w, nil
}

// syncRules reloads the local copy of the rules when the epoch or version
// Redis holds is not the copy's. Concurrent checks that find it stale wait
// for one reload.
func (s *Store) syncRules(ctx context.Context, epoch, version string) error {
	if s.current(epoch, version) {
		return nil
	}
	want := loadedState{epoch, version}
	if version == "0" && s.rules.Len() == 0 {
		// No rule was ever written under this epoch (or the list was
		// lost with them): the empty copy is the whole set.
		s.loaded.Store(&want)
		return nil
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if l := s.loaded.Load(); l != nil && *l == want {
		return nil
	}
	res, err := loadRules.Run(ctx, s.client, []string{s.rulesKey, s.versionKey, s.epochKey}).Slice()
	if err != nil {
		return err
	}
	if len(res) != 3 {
		return fmt.Errorf("loading rules: %d values", len(res))
	}
	gotEpoch, _ := res[0].(string)
	gotVersion, _ := res[1].(string)
	flat, _ := res[2].([]any)
	set := make(map[revocation.RuleKey]revocation.Window, len(flat)/2)
	now := s.now().UnixMilli()
	var ended []any // field, value read, ...
	for i := 0; i+1 < len(flat); i += 2 {
		f, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		k, w, err := parseRule(f, v)
		if err != nil {
			// A rule this Store cannot read may be one that revokes:
			// the copy is not whole, so the check fails by the
			// outage policy rather than ignore it.
			return fmt.Errorf("loading rules: field %q: %w", f, err)
		}
		if w.Ended(now) {
			ended = append(ended, f, v)
		} else {
			set[k] = w
		}
	}
	s.rules.Replace(set)
	s.loaded.Store(&loadedState{gotEpoch, gotVersion})
	if len(ended) > 0 {
		// Ended rules match nothing; dropping them keeps the hash as
		// small as the rules in force. Best effort: the next reload
		// tries again.
		_ = dropEnded.Run(ctx, s.client, []string{s.rulesKey}, ended...).Err()
	}
	return nil
}

// current reports whether the local copy was loaded at epoch and version.
// A copy whose epoch is not known yet (made by this Store's own first
// write, see advanced) learns it here.
func (s *Store) current(epoch, version string) bool {
	l := s.loaded.Load()
	if l == nil || l.version != version || (l.epoch != epoch && l.epoch != "") {
		return false
	}
	if l.epoch == "" {
		s.loaded.Store(&loadedState{epoch, version})
	}
	return true
}

// loadedState is the epoch and version the local copy of the rules was
// loaded at.
type loadedState struct{ epoch, version string }
