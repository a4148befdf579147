package apikey

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// ReservedClaims are the claims the verifier sets itself; Metadata may not
// use their names.
var ReservedClaims = []string{
	"sub", "client_id", "jti", "iss", "aud", "exp", "iat", "nbf", "scope", "scp", "permissions",
	"org_id", "app_id", "key_id", "key_name", "rate_limit", "rate_limit_per", "rate_limit_burst",
}

// Limits on what a key may hold, so a portal cannot grow a record (and
// every principal built from it) without bound.
const (
	maxNameBytes        = 200
	maxOwnerBytes       = 256
	maxPermissions      = 100
	maxPermissionBytes  = 128
	maxMetadata         = 50
	maxMetadataKeyBytes = 64
	maxMetadataValBytes = 1024
)

func validateOwner(o Owner) error {
	if o.ID == "" {
		return fmt.Errorf("%w: Owner.ID is required", ErrInvalid)
	}
	for _, s := range []string{o.ID, o.OrgID, o.AppID} {
		if len(s) > maxOwnerBytes || !utf8.ValidString(s) || hasControl(s) {
			return fmt.Errorf("%w: owner ids are up to %d bytes of UTF-8 without control characters", ErrInvalid, maxOwnerBytes)
		}
	}
	return nil
}

// validateMutable checks the fields Update may change. A non-zero now also
// requires ExpiresAt, if set, to be after it.
func validateMutable(k *Key, now time.Time) error {
	if len(k.Name) > maxNameBytes || !utf8.ValidString(k.Name) || hasControl(k.Name) {
		return fmt.Errorf("%w: Name is up to %d bytes of UTF-8 without control characters", ErrInvalid, maxNameBytes)
	}
	if len(k.Permissions) > maxPermissions {
		return fmt.Errorf("%w: at most %d permissions", ErrInvalid, maxPermissions)
	}
	for i, p := range k.Permissions {
		if p == "" || len(p) > maxPermissionBytes {
			return fmt.Errorf("%w: a permission is 1 to %d characters", ErrInvalid, maxPermissionBytes)
		}
		for j := 0; j < len(p); j++ {
			// RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E.
			if c := p[j]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
				return fmt.Errorf("%w: permission %q: printable ASCII without spaces, quotes or backslashes", ErrInvalid, p)
			}
		}
		if slices.Contains(k.Permissions[:i], p) {
			return fmt.Errorf("%w: permission %q given twice", ErrInvalid, p)
		}
	}
	if len(k.Metadata) > maxMetadata {
		return fmt.Errorf("%w: at most %d metadata entries", ErrInvalid, maxMetadata)
	}
	for name, v := range k.Metadata {
		if name == "" || len(name) > maxMetadataKeyBytes || !utf8.ValidString(name) || hasControl(name) {
			return fmt.Errorf("%w: a metadata name is 1 to %d bytes of UTF-8 without control characters", ErrInvalid, maxMetadataKeyBytes)
		}
		if slices.Contains(ReservedClaims, name) {
			return fmt.Errorf("%w: metadata name %q is reserved", ErrInvalid, name)
		}
		if len(v) > maxMetadataValBytes || !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			return fmt.Errorf("%w: metadata %q: up to %d bytes of UTF-8 without NUL", ErrInvalid, name, maxMetadataValBytes)
		}
	}
	if !now.IsZero() && !k.ExpiresAt.IsZero() && !k.ExpiresAt.After(now) {
		return fmt.Errorf("%w: ExpiresAt must be in the future", ErrInvalid)
	}
	if l := k.RateLimit; l != nil {
		if err := l.Validate(); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	if k.RemainingUses != nil && *k.RemainingUses < 0 {
		return fmt.Errorf("%w: RemainingUses must not be negative", ErrInvalid)
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}
