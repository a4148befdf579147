package apikey

import (
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/tollgate/tollgate/ratelimit"
)

// Status is where a key stands. Active and Inactive are reversible
// (Deactivate, Reactivate); Revoked is final. Expired is never stored: it
// is what StatusAt reports for an active key whose ExpiresAt has passed.
type Status string

// The statuses of a key.
const (
	Active   Status = "active"
	Inactive Status = "inactive"
	Revoked  Status = "revoked"
	Expired  Status = "expired"
)

// Owner is who a key belongs to and acts for.
type Owner struct {
	// ID is the account that owns the key (the merchant): the principal's
	// Subject, and what List pages by. Required.
	ID string
	// OrgID and AppID are the organization and app the key was issued
	// for, the principal's "org_id" and "app_id" claims, so
	// middleware.RequireTenant can bind the X-Organization-Id and X-App-Id
	// headers to them. Optional.
	OrgID, AppID string
}

// Key is one API key's record: everything about it except its secret,
// which is never stored (only its Digest is) and never returned after
// Create or Rotate.
type Key struct {
	// ID identifies the key in the management API, in logs and as the
	// principal's TokenID and ClientID. It is not secret. IDs sort in
	// creation order.
	ID string
	// Prefix is the Prefix.Name the key's token starts with.
	Prefix string
	// Hint is the display form of the token, "mt_live_…a1b2" (see Hint).
	Hint string
	// Name is the owner's label for the key.
	Name  string
	Owner Owner
	// Permissions are the principal's scopes (scopes.Require checks
	// them).
	Permissions []string
	// Metadata is free data of the owner's; each entry becomes a string
	// claim of the principal, except names the package sets itself (see
	// ReservedClaims).
	Metadata map[string]string
	// Status is Active, Inactive or Revoked.
	Status Status
	// CreatedAt and UpdatedAt are when the key was made and last changed.
	CreatedAt, UpdatedAt time.Time
	// ExpiresAt is when the key stops working; the zero Time means never.
	ExpiresAt time.Time
	// LastUsedAt is when the key was last verified, to within the
	// configured LastUsedInterval; zero if never.
	LastUsedAt time.Time
	// RateLimit, if set, replaces the rate limiter's default limits for
	// this key (see Keys.LimitFor).
	RateLimit *ratelimit.Limit
	// RemainingUses, if set, is how many more verifications the key
	// passes; each takes one, in the store (a round trip per request for
	// such keys only). At zero the key is refused.
	RemainingUses *int64
	// Version counts the key's changes, starting at 1.
	Version int64
}

// StatusAt is the key's status at now: Expired for an active key past its
// ExpiresAt, otherwise Status.
func (k *Key) StatusAt(now time.Time) Status {
	if k.Status == Active && !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) {
		return Expired
	}
	return k.Status
}

// Clone returns a deep copy of k.
func (k *Key) Clone() *Key {
	if k == nil {
		return nil
	}
	c := *k
	c.Permissions = slices.Clone(k.Permissions)
	c.Metadata = maps.Clone(k.Metadata)
	if k.RateLimit != nil {
		l := *k.RateLimit
		c.RateLimit = &l
	}
	if k.RemainingUses != nil {
		n := *k.RemainingUses
		c.RemainingUses = &n
	}
	return &c
}

// Uses returns a pointer to n, for Key.RemainingUses.
func Uses(n int64) *int64 { return &n }

// Hash is one stored secret of a key: its digest under the pepper named
// Pepper. A key has one current hash (Until zero) and, for a grace period
// after Rotate, the hash of its previous secret (Until set).
type Hash struct {
	Digest Digest
	Pepper string
	// Until is when a rotated-out secret stops being accepted; the zero
	// Time for the key's current secret.
	Until time.Time
}

// The errors of the management API and of stores. Match them with
// errors.Is.
var (
	// ErrNotFound: no key has this id (or, for Lookup, any of these
	// digests).
	ErrNotFound = errors.New("apikey: no such key")
	// ErrRevoked: the key is revoked, which is final.
	ErrRevoked = errors.New("apikey: the key is revoked")
	// ErrExhausted: the key has no uses left (Store.Consume).
	ErrExhausted = errors.New("apikey: the key has no uses left")
	// ErrConflict: a key with this id or digest exists (Store.Insert).
	ErrConflict = errors.New("apikey: the key exists")
	// ErrInvalid: what was asked for is not a valid key (an empty owner,
	// an unknown prefix, a bad rate limit, a reserved metadata name, a
	// change to a field Update may not change). The error's text says
	// which.
	ErrInvalid = errors.New("apikey: invalid key")
)
