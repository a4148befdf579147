package ipfilter

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

func TestParsePrefix(t *testing.T) {
	accepted := []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7/32"},
		{"2001:db8::7", "2001:db8::7/128"},
		{"192.0.2.0/24", "192.0.2.0/24"},
		{"2001:db8::/32", "2001:db8::/32"},
		{" 10.0.0.0/8 ", "10.0.0.0/8"},
		{"0.0.0.0/0", "0.0.0.0/0"},
		{"::/0", "::/0"},
	}
	for _, c := range accepted {
		t.Run("accepts "+c.in, func(t *testing.T) {
			p, err := ParsePrefix(c.in)
			if err != nil || p != netip.MustParsePrefix(c.want) {
				t.Fatalf("ParsePrefix(%q) = %v, %v; want %s", c.in, p, err, c.want)
			}
		})
	}
	refused := []struct{ in, says string }{
		{"10.0.0.1/8", `not a canonical prefix (host bits are set); write "10.0.0.0/8"`},
		{"2001:db8::1/32", `write "2001:db8::/32"`},
		{"::ffff:0:0/96", `IPv4-mapped IPv6 range, which never matches (clients are unmapped); write "0.0.0.0/0"`},
		{"::ffff:10.0.0.0/104", `write "10.0.0.0/8"`},
		{"::ffff:10.0.0.1", `IPv4-mapped IPv6 address, which never matches (clients are unmapped); write "10.0.0.1"`},
		{"fe80::1%eth0", "has a zone"},
		{"fe80::/64%eth0", "has a zone"},
		{"10.0.0.0/33", "not an IP address or CIDR prefix"},
		{"example.com", "not an IP address or CIDR prefix"},
		{"10.0.0.0/", "not an IP address or CIDR prefix"},
		{"", "empty entry"},
	}
	for _, c := range refused {
		t.Run("refuses "+c.in, func(t *testing.T) {
			_, err := ParsePrefix(c.in)
			if err == nil {
				t.Fatalf("ParsePrefix(%q) accepted it", c.in)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "ipfilter: ") || !strings.Contains(msg, c.says) {
				t.Fatalf("ParsePrefix(%q) error %q; want it to say %q", c.in, msg, c.says)
			}
		})
	}
}

func TestPrefixSetMatchesLikeALinearScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randAddr := func(v6 bool) netip.Addr {
		if v6 {
			var b [16]byte
			for i := range b {
				b[i] = byte(rng.IntN(4)) // few distinct values, so ranges overlap and touch
			}
			return netip.AddrFrom16(b)
		}
		return netip.AddrFrom4([4]byte{byte(rng.IntN(4)), byte(rng.IntN(4)), byte(rng.IntN(4)), byte(rng.IntN(4))})
	}
	for round := 0; round < 200; round++ {
		var ps []netip.Prefix
		for i := rng.IntN(20); i > 0; i-- {
			v6 := rng.IntN(2) == 0
			a := randAddr(v6)
			p, _ := a.Prefix(rng.IntN(a.BitLen() + 1))
			ps = append(ps, p)
		}
		set := newPrefixSet(append([]netip.Prefix(nil), ps...))
		for i := 0; i < 200; i++ {
			a := randAddr(rng.IntN(2) == 0)
			want := false
			for _, p := range ps {
				want = want || p.Contains(a)
			}
			if got := set.contains(a); got != want {
				t.Fatalf("prefixes %v: contains(%v) = %v, a linear scan says %v", ps, a, got, want)
			}
		}
	}
}

func TestPrefixSetEdges(t *testing.T) {
	set := newPrefixSet([]netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/1"),
		netip.MustParsePrefix("128.0.0.0/1"), // touches the first: one range
		netip.MustParsePrefix("2001:db8::/127"),
		netip.MustParsePrefix("2001:db8::2/128"), // touches: one range
		netip.MustParsePrefix("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"),
	})
	if len(set.v4) != 1 || len(set.v6) != 2 {
		t.Fatalf("ranges v4 %v v6 %v; want touching ranges merged", set.v4, set.v6)
	}
	for _, c := range []struct {
		addr string
		want bool
	}{
		{"0.0.0.0", true}, {"255.255.255.255", true}, {"127.255.255.255", true},
		{"2001:db8::", true}, {"2001:db8::2", true}, {"2001:db8::3", false},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true}, {"::", false},
		{"::ffff:1.2.3.4", false}, // callers unmap first; mapped is IPv6 here
	} {
		if got := set.contains(netip.MustParseAddr(c.addr)); got != c.want {
			t.Errorf("contains(%s) = %v; want %v", c.addr, got, c.want)
		}
	}
	var empty *prefixSet
	if empty.contains(netip.MustParseAddr("1.2.3.4")) || set.contains(netip.Addr{}) {
		t.Error("the empty set or the invalid address matched")
	}
	all := newPrefixSet([]netip.Prefix{netip.MustParsePrefix("::/0")})
	if !all.contains(netip.MustParseAddr("::")) || !all.contains(netip.MustParseAddr("ffff::1")) || all.contains(netip.MustParseAddr("1.2.3.4")) {
		t.Error("::/0 must hold every IPv6 address and no IPv4 one")
	}
}
