package ipfilter

import (
	"context"
	stderrors "errors"
	"net/netip"
	"strings"

	"github.com/tollgate/tollgate/principal"
)

// matchNothing is the allow-list of an account whose claim is unusable: one
// entry that matches no address, so the account stays restricted.
var matchNothing = []netip.Prefix{{}}

var errNoPrincipal = stderrors.New("ipfilter: ClaimLookup used on a request with no principal")

// ClaimLookup returns an AccountLookup that reads the allow-list from the
// authenticated principal's claim called name. It trusts the claim because
// the token's issuer signed it: name only a claim your issuer sets from its
// own records, never one the user can edit. The account argument is
// ignored: the list is the one in
// the request's own token, so use it only after middleware.Authenticate
// (with no principal in the context it fails, and the request is refused
// with 503, a wiring error).
//
// The claim may be a JSON array of strings or a string of entries
// separated by spaces or commas; each entry is a single address or a
// canonical CIDR prefix. An absent claim, an empty array or an empty string
// mean no entries: unrestricted. Garbage fails closed: an entry that does
// not parse, a non-string element, or a claim of another type (a number, an
// object) stays in the list as an entry that matches nothing, so the
// account is restricted and that entry admits no one.
//
// It allocates the returned list on every call; for hot paths prefer a
// lookup that keeps parsed lists.
func ClaimLookup(name string) AccountLookup {
	return AccountLookupFunc(func(ctx context.Context, _ string) ([]netip.Prefix, error) {
		p, ok := principal.From(ctx)
		if !ok {
			return nil, errNoPrincipal
		}
		v, ok := p.Claim(name)
		if !ok || v == nil {
			return nil, nil
		}
		switch v := v.(type) {
		case string:
			fields := strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })
			return claimEntries(len(fields), func(i int) (string, bool) { return fields[i], true }), nil
		case []string:
			return claimEntries(len(v), func(i int) (string, bool) { return v[i], true }), nil
		case []any:
			return claimEntries(len(v), func(i int) (string, bool) { s, ok := v[i].(string); return s, ok }), nil
		}
		return matchNothing, nil
	})
}

// claimEntries parses n entries; one that is not a string or not a valid
// entry becomes the zero Prefix, which matches nothing.
func claimEntries(n int, entry func(int) (string, bool)) []netip.Prefix {
	if n == 0 {
		return nil
	}
	out := make([]netip.Prefix, n)
	for i := range out {
		if s, ok := entry(i); ok {
			out[i], _ = parsePrefix(s)
		}
	}
	return out
}
