package ipfilter

import (
	"net/netip"
	"strings"
	"testing"
)

// checkNormal fails unless a is how resolution may report an address: valid,
// unmapped and without a zone, so one host has one spelling.
func checkNormal(t *testing.T, input string, a netip.Addr) {
	t.Helper()
	if !a.IsValid() || a.Is4In6() || a.Zone() != "" {
		t.Fatalf("%q gave %v: not valid, unmapped and zoneless", input, a)
	}
}

var fuzzTrusted = newPrefixSet([]netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/24"),
	netip.MustParsePrefix("2001:db8:ff::/64"),
})

func FuzzParseHostPort(f *testing.F) {
	for _, s := range []string{
		"203.0.113.7", "203.0.113.7:80", "[2001:db8::1]:443", "[2001:db8::1]",
		"2001:db8::1", "fe80::1%eth0", "[fe80::1%eth0]:80", "::ffff:1.2.3.4",
		"[::ffff:1.2.3.4]:1", "1.2.3.4%x", "unknown", "", "[", "]:80", "1.2.3.4:",
		"1.2.3.4:99999", "[1.2.3.4]", "::", "0.0.0.0", "_hidden",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := parseHostPort(s)
		if !ok {
			if a.IsValid() {
				t.Fatalf("%q: refused but returned %v", s, a)
			}
			return
		}
		checkNormal(t, s, a)
		// Whatever was accepted is the address netip reads from the text
		// without brackets, port and zone.
		host := s
		if strings.HasPrefix(host, "[") {
			host = host[1:strings.IndexByte(host, ']')]
		} else if strings.Count(host, ":") == 1 {
			host, _, _ = strings.Cut(host, ":")
		}
		host, _, _ = strings.Cut(host, "%")
		if want := netip.MustParseAddr(host).Unmap(); a != want {
			t.Fatalf("%q gave %v; netip reads %v", s, a, want)
		}
	})
}

func FuzzWalkXFF(f *testing.F) {
	for _, s := range []string{
		"203.0.113.7", "1.1.1.1, 203.0.113.7, 10.0.0.2", "203.0.113.7\n10.0.0.2",
		"10.0.0.5, 10.0.0.2", "garbage, 203.0.113.7", "203.0.113.7, garbage",
		"", ",", " , ", "[2001:db8::7]:443, 2001:db8:ff::1", "::ffff:10.0.0.2",
		"fe80::1%eth0, 10.0.0.3", "1.1.1.1,,203.0.113.7,", "a,,b", ", ,\t,",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lines := strings.Split(s, "\n")
		a, ok := walkXFF(lines, fuzzTrusted)
		if !ok {
			if a.IsValid() {
				t.Fatalf("%q: refused but returned %v", s, a)
			}
			return
		}
		checkNormal(t, s, a)
		if !fuzzTrusted.contains(a) {
			// What a client writes further left cannot change the answer
			// once an untrusted entry was found.
			lines[0] = "spoofed, garbage, 10.0.0.1, " + lines[0]
			if b, ok := walkXFF(append([]string{"1.1.1.1"}, lines...), fuzzTrusted); !ok || b != a {
				t.Fatalf("%q: prefix changed the client from %v to %v, %v", s, a, b, ok)
			}
		}
	})
}

// splitForward splits a Forwarded line at commas outside quoted-strings,
// reading left to right, as a full parser would.
func splitForward(s string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case quoted && s[i] == '\\':
			i++
		case s[i] == '"':
			quoted = !quoted
		case !quoted && s[i] == ',':
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func FuzzWalkForwarded(f *testing.F) {
	for _, s := range []string{
		"for=203.0.113.7", `for="[2001:db8:cafe::17]:4711";proto=https`,
		"for=1.1.1.1, for=203.0.113.7, for=10.0.0.2", "for=unknown", "for=_hidden, for=203.0.113.7",
		`for="x, for=203.0.113.7`, `for="a\"b", for=203.0.113.7`, "proto=http", "for=1.1.1.1;for=2.2.2.2",
		`for="\\", for=10.0.0.2`, "FOR=203.0.113.7 ; by=10.0.0.1", "",
		"for=1.1.1.1, , for=203.0.113.7,", ",,", " , for=10.0.0.2 ,",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := walkForwarded([]string{s}, fuzzTrusted)
		if ok {
			checkNormal(t, s, a)
		} else if a.IsValid() {
			t.Fatalf("%q: refused but returned %v", s, a)
		}
		// When the line is well-formed throughout, splitting from the right
		// must agree with a left-to-right parse.
		// Empty elements are skipped (RFC 9110 §5.6.1.2); a line of them
		// only names no one.
		elems := splitForward(s)
		var want netip.Addr
		for i := len(elems) - 1; i >= 0; i-- {
			if trimOWS(elems[i]) == "" {
				continue
			}
			b, ok := forwardedFor(elems[i])
			if !ok {
				return
			}
			want = b
			if !fuzzTrusted.contains(b) {
				break
			}
		}
		if !want.IsValid() {
			if ok {
				t.Fatalf("%q: no element names a node, but the walk gave %v", s, a)
			}
			return
		}
		if !ok || a != want {
			t.Fatalf("%q: walk gave %v, %v; a left-to-right parse gives %v", s, a, ok, want)
		}
	})
}

func FuzzLastValue(f *testing.F) {
	for _, s := range []string{"203.0.113.7", "1.1.1.1, 203.0.113.7", "1.1.1.1\n203.0.113.7", "", "x", "::ffff:1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lines := strings.Split(s, "\n")
		a, ok := lastValue(lines)
		if !ok {
			return
		}
		checkNormal(t, s, a)
		last := lines[len(lines)-1]
		if b, _ := parseHostPort(trimOWS(last[strings.LastIndexByte(last, ',')+1:])); a != b {
			t.Fatalf("%q gave %v, not its last value %v", s, a, b)
		}
	})
}
