package ipfilter

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strings"
)

// ParsePrefix parses one list entry: a single address ("192.0.2.7",
// "2001:db8::7") or a CIDR prefix ("192.0.2.0/24", "2001:db8::/32").
// Surrounding spaces are ignored. It refuses, with a message that says how
// to write the entry instead:
//
//   - a prefix with host bits set ("10.0.0.1/8"): it is ambiguous whether
//     the host or the network was meant, and a typo widens a list silently;
//   - an IPv4-mapped IPv6 address or range ("::ffff:10.0.0.1",
//     "::ffff:0:0/96"): client addresses are unmapped before matching, so
//     such an entry would never match; write the IPv4 form;
//   - a zone ("fe80::1%eth0"): zones name an interface, not a host.
//
// Applications that store allow-lists (see AccountLookup) should validate
// entries with ParsePrefix when they are written.
func ParsePrefix(s string) (netip.Prefix, error) {
	p, err := parsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("ipfilter: %w", err)
	}
	return p, nil
}

// parsePrefix is ParsePrefix without the package name in its errors.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Prefix{}, errors.New("empty entry")
	}
	if strings.IndexByte(s, '%') >= 0 {
		return netip.Prefix{}, fmt.Errorf("%q has a zone; list entries name hosts, write it without %%zone", s)
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR prefix", s)
		}
		if a.Is4In6() {
			return netip.Prefix{}, fmt.Errorf("%q is an IPv4-mapped IPv6 address, which never matches (clients are unmapped); write %q", s, a.Unmap().String())
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR prefix", s)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("%q is not a canonical prefix (host bits are set); write %q, or the address alone", s, m.String())
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		v4 := netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		return netip.Prefix{}, fmt.Errorf("%q is an IPv4-mapped IPv6 range, which never matches (clients are unmapped); write %q", s, v4.String())
	}
	return p, nil
}

// parsePrefixes parses entries with ParsePrefix, naming the field and index
// of the first bad one.
func parsePrefixes(field string, entries []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(entries))
	for i, e := range entries {
		p, err := parsePrefix(e)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", field, i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// prefixSet answers "is this address in any of these prefixes" in
// O(log n), without allocating. Each prefix is turned into the range of
// addresses it covers; overlapping and adjacent ranges are merged, so the
// ranges are sorted and disjoint and a binary search on their starts finds
// the only candidate. IPv4 and IPv6 are kept apart: an IPv4 client matches
// IPv4 entries only. The zero value (and nil) is the empty set.
type prefixSet struct {
	v4 []range4
	v6 []range6
}

type range4 struct{ lo, hi uint32 }

// u128 is an IPv6 address as a number.
type u128 struct{ hi, lo uint64 }

type range6 struct{ lo, hi u128 }

func (a u128) cmp(b u128) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

func (a u128) next() (u128, bool) {
	lo, carry := bits.Add64(a.lo, 1, 0)
	hi, overflow := bits.Add64(a.hi, 0, carry)
	return u128{hi, lo}, overflow == 0
}

func v4num(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func v6num(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// lessEq reports a <= b.
func (a u128) lessEq(b u128) bool {
	return a.hi < b.hi || (a.hi == b.hi && a.lo <= b.lo)
}

// newPrefixSet builds the set of ps. Entries must be valid; they are masked,
// so a non-canonical prefix covers its network.
func newPrefixSet(ps []netip.Prefix) *prefixSet {
	s := &prefixSet{}
	for _, p := range ps {
		p = p.Masked()
		if !p.IsValid() {
			continue
		}
		if p.Addr().Is4() {
			lo := v4num(p.Addr())
			host := uint32(1)<<(32-p.Bits()) - 1
			if p.Bits() == 0 {
				host = ^uint32(0)
			}
			s.v4 = append(s.v4, range4{lo, lo | host})
			continue
		}
		lo := v6num(p.Addr())
		var host u128
		switch h := 128 - p.Bits(); {
		case h >= 64:
			host = u128{^uint64(0) >> (128 - h), ^uint64(0)}
		case h > 0:
			host = u128{0, ^uint64(0) >> (64 - h)}
		}
		s.v6 = append(s.v6, range6{lo, u128{lo.hi | host.hi, lo.lo | host.lo}})
	}
	s.v4 = merge(s.v4, func(a, b range4) int { return cmp.Compare(a.lo, b.lo) },
		func(prev *range4, r range4) bool {
			if prev.hi != ^uint32(0) && r.lo > prev.hi+1 {
				return false
			}
			prev.hi = max(prev.hi, r.hi)
			return true
		})
	s.v6 = merge(s.v6, func(a, b range6) int { return a.lo.cmp(b.lo) },
		func(prev *range6, r range6) bool {
			if n, ok := prev.hi.next(); ok && r.lo.cmp(n) > 0 {
				return false
			}
			if r.hi.cmp(prev.hi) > 0 {
				prev.hi = r.hi
			}
			return true
		})
	return s
}

// merge sorts rs by start and folds each range into the previous one when
// absorb says they overlap or touch.
func merge[R any](rs []R, byStart func(a, b R) int, absorb func(prev *R, r R) bool) []R {
	slices.SortFunc(rs, byStart)
	out := rs[:0]
	for _, r := range rs {
		if len(out) > 0 && absorb(&out[len(out)-1], r) {
			continue
		}
		out = append(out, r)
	}
	return slices.Clip(out)
}

// contains reports whether a, which must be unmapped and zoneless, is in
// the set. An invalid address is in no set.
func (s *prefixSet) contains(a netip.Addr) bool {
	if s == nil {
		return false
	}
	if a.Is4() {
		x := v4num(a)
		rs := s.v4
		// Find the first range starting after x; the one before it is the
		// only range that can hold x.
		lo, hi := 0, len(rs)
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if rs[m].lo <= x {
				lo = m + 1
			} else {
				hi = m
			}
		}
		return lo > 0 && x <= rs[lo-1].hi
	}
	if a.Is6() {
		x := v6num(a)
		rs := s.v6
		lo, hi := 0, len(rs)
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if rs[m].lo.lessEq(x) {
				lo = m + 1
			} else {
				hi = m
			}
		}
		return lo > 0 && x.lessEq(rs[lo-1].hi)
	}
	return false
}
