package ipfilter

import (
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/tollgate/tollgate/internal/ratelog"
)

// This file holds the parsers for what proxies write: X-Forwarded-For, RFC
// 7239 Forwarded, single-IP headers and RemoteAddr. Each works on substrings
// of its input and allocates nothing: netip.ParseAddr does not allocate for
// an address without a zone, and zones are cut off before it sees them.

// parseHostPort parses one address as proxies and net/http write it:
// "192.0.2.1", "192.0.2.1:8080", "2001:db8::1", "[2001:db8::1]",
// "[2001:db8::1]:8080", each IPv6 form with an optional "%zone". The result
// is unmapped (::ffff:192.0.2.1 becomes 192.0.2.1) and has no zone, so that
// one host has one spelling: otherwise a client could alias a listed address
// past the check. It reports false for anything else: names, "unknown",
// obfuscated identifiers, empty strings, surrounding spaces, bad ports, a
// zone on IPv4.
// forwardingHeaders are the headers a router's "real IP" middleware copies
// into RemoteAddr (chi's middleware.RealIP, gorilla's handlers.ProxyHeaders
// and their like), canonical; the first three are the ones gorilla's
// ProxyHeaders reads.
var forwardingHeaders = [...]string{"X-Forwarded-For", "X-Real-Ip", "Forwarded", "True-Client-Ip", "Cf-Connecting-Ip", "X-Client-Ip"}

// rewrittenRemoteAddr reports whether r's RemoteAddr looks rewritten from a
// header anyone can send: net/http always writes the connection's own
// "ip:port", while "real IP" middlewares write what they took from a
// forwarding header, usually a bare address (chi's RealIP), sometimes the
// header's text as it came ("10.0.0.1:1", which gorilla's ProxyHeaders
// copies unchecked). So on a request that carries such a header, a bare
// RemoteAddr, or one that the header's text contains, is taken for
// rewritten; a bare one is believed only with Config.PortlessRemoteAddr.
// No proxy writes its own peer's ip:port into these headers.
func rewrittenRemoteAddr(r *http.Request, portless bool) bool {
	s := r.RemoteAddr
	if s == "" {
		return false
	}
	bare := s[0] != '[' && strings.Count(s, ":") != 1
	if bare && portless {
		return false // the server writes bare addresses; its adapter's headers may repeat them
	}
	headers := forwardingHeaders[:]
	if !bare {
		// Only a middleware that copies the text as it came keeps a
		// port: gorilla's ProxyHeaders, which reads these three.
		headers = forwardingHeaders[:3]
	}
	for _, h := range headers {
		for _, v := range r.Header[h] {
			if bare || strings.Contains(v, s) {
				return true
			}
		}
	}
	return false
}

var rewriteLog = ratelog.New(time.Minute, nil)

// logRewrite warns, at most once a minute, that RemoteAddr was rewritten.
// The address is not logged.
func logRewrite(r *http.Request) {
	rewriteLog.Log(r.Context(), slog.Default(), slog.LevelWarn, "rewritten-remote-addr",
		"tollgate: RemoteAddr carries no port but the request has a forwarding header: a middleware in front (chi middleware.RealIP, gorilla handlers.ProxyHeaders) probably copied a client-supplied header into it; the client IP is treated as unknown. Remove that middleware and list your proxies in ipfilter.Config.TrustedProxies, or set ipfilter.Config.PortlessRemoteAddr if your server writes bare addresses")
}

// peer returns the connection's address from RemoteAddr, or false when it
// is not an address or looks rewritten from a header (see
// rewrittenRemoteAddr) and portless is not allowed.
func peer(r *http.Request, portless bool) (netip.Addr, bool) {
	if rewrittenRemoteAddr(r, portless) {
		logRewrite(r)
		return netip.Addr{}, false
	}
	return parseHostPort(r.RemoteAddr)
}

func parseHostPort(s string) (netip.Addr, bool) {
	if s == "" {
		return netip.Addr{}, false
	}
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		if rest := s[end+1:]; rest != "" && (rest[0] != ':' || !validPort(rest[1:])) {
			return netip.Addr{}, false
		}
		return parseIP(s[1:end], true)
	}
	switch strings.Count(s, ":") {
	case 0:
		return parseIP(s, false)
	case 1:
		// IPv4 with a port. An IPv6 address has at least two colons.
		host, port, _ := strings.Cut(s, ":")
		if !validPort(port) {
			return netip.Addr{}, false
		}
		return parseIP(host, false)
	default:
		// A bare IPv6 address; without brackets it cannot carry a port.
		return parseIP(s, true)
	}
}

// parseIP parses a bare address, IPv6 only when v6 is set, and returns it
// unmapped and without its zone. A zone must be non-empty and is allowed on
// IPv6 only; it is cut off before netip sees it, because netip interns zones
// (an allocation) and the zone names an interface on the proxy, not a host.
func parseIP(s string, v6 bool) (netip.Addr, bool) {
	if i := strings.IndexByte(s, '%'); i >= 0 {
		if !v6 || !validZone(s[i+1:]) {
			return netip.Addr{}, false
		}
		s = s[:i]
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Is6() != v6 {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// validZone accepts what an interface name or index can be written as:
// printable ASCII without spaces, brackets, slashes or percent signs.
func validZone(z string) bool {
	if z == "" || len(z) > 64 {
		return false
	}
	for i := 0; i < len(z); i++ {
		c := z[i]
		if c <= ' ' || c >= 0x7f || c == '%' || c == '[' || c == ']' || c == '/' || c == ',' || c == '"' {
			return false
		}
	}
	return true
}

// validPort accepts a decimal port, 0 to 65535, one to five digits.
func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}

// trimOWS removes the optional whitespace (spaces and tabs) HTTP allows
// around list elements.
func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// walkXFF returns the client an X-Forwarded-For chain names: the header's
// lines merged in order, as one comma-separated list, walked from the right
// (the entry the nearest proxy wrote) past every entry in trusted, stopping
// at the first one that is not. If every entry is a trusted proxy, the
// leftmost is the client: a trusted proxy vouched for it.
//
// Empty elements (nothing but spaces and tabs between two commas, or
// before or after the first or last one: "a,,b", "a, ,b", "a,") are
// skipped, as RFC 9110 §5.6.1.2 asks of every list: a proxy that writes a
// trailing comma names no one there. An empty line is an empty element.
//
// It fails closed (false) when it meets, before stopping, an entry that is
// not an address ("unknown", a name, garbage): the walk must not skip an
// entry it cannot judge and believe one further left, which is where a
// client writes what it likes. It also fails closed when there are no
// entries at all (no lines, or only empty elements): the trusted peer
// vouched for no one.
//
// Lazy walk, zero allocations (entries are substrings of the lines); entries
// left of the client are never read, so a client's own garbage there does
// not matter.
func walkXFF(lines []string, trusted *prefixSet) (netip.Addr, bool) {
	var leftmost netip.Addr
	found := false
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for {
			j := strings.LastIndexByte(line, ',')
			if entry := trimOWS(line[j+1:]); entry != "" {
				a, ok := parseHostPort(entry)
				if !ok {
					return netip.Addr{}, false
				}
				if !trusted.contains(a) {
					return a, true
				}
				leftmost, found = a, true
			}
			if j < 0 {
				break
			}
			line = line[:j]
		}
	}
	return leftmost, found
}

// walkForwarded is walkXFF for RFC 7239 Forwarded: the header's lines, each
// a list of forwarded-elements, walked from the right past trusted proxies;
// each element's node is its for= parameter, parsed as parseHostPort does
// (so a quoted IPv6 node is accepted with or without the brackets RFC 7239
// asks for; the reading is unambiguous). An element without for=, with
// for= twice, with for=unknown or an obfuscated identifier (RFC 7239 §6.3),
// or with any syntax error fails the walk closed, as garbage does in walkXFF.
// Empty elements ("for=a, , for=b,") are skipped (RFC 9110 §5.6.1.2), and a
// header with no element at all fails closed, as in walkXFF.
//
// Elements are split from the right, honouring quoted-strings (a quoted
// for="[2001:db8::1]:80" holds colons, and a quoted-string may hold commas).
// Scanning from the right, through text the trusted proxies wrote, finds the
// same boundaries a full parse would even when a client put an unbalanced
// quote further left. Zero allocations.
func walkForwarded(lines []string, trusted *prefixSet) (netip.Addr, bool) {
	var leftmost netip.Addr
	found := false
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for {
			rest, elem, more := cutLastElement(line)
			if trimOWS(elem) != "" {
				a, ok := forwardedFor(elem)
				if !ok {
					return netip.Addr{}, false
				}
				if !trusted.contains(a) {
					return a, true
				}
				leftmost, found = a, true
			}
			if !more {
				break
			}
			line = rest
		}
	}
	return leftmost, found
}

// lastValue returns the single-IP header's last value: the last element of
// its last line. A proxy that sets the header replaces or appends to what
// the client sent, so only the last value is the proxy's. Anything that is
// not an address fails closed.
func lastValue(lines []string) (netip.Addr, bool) {
	if len(lines) == 0 {
		return netip.Addr{}, false
	}
	line := lines[len(lines)-1]
	return parseHostPort(trimOWS(line[strings.LastIndexByte(line, ',')+1:]))
}

// cutLastElement splits a Forwarded line at its last comma outside a
// quoted-string. Scanning backwards, a quote ends (opens) a quoted-string
// unless an odd run of backslashes precedes it; for valid quoted-strings
// this is exactly the forward reading.
func cutLastElement(s string) (rest, elem string, more bool) {
	quoted := false
	for i := len(s) - 1; i >= 0; i-- {
		switch s[i] {
		case '"':
			if !quoted {
				quoted = true
				continue
			}
			k := 0
			for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
				k++
			}
			if k%2 == 0 {
				quoted = false
			}
		case ',':
			if !quoted {
				return s[:i], s[i+1:], true
			}
		}
	}
	return "", s, false
}

// forwardedFor parses one forwarded-element (RFC 7239 §4: pairs of
// token=value separated by semicolons, each value a token or a
// quoted-string; whitespace tolerated around pairs) and returns the address
// of its for= node. Parameter names are case-insensitive. Other parameters
// (by, proto, host, extensions) must be well-formed and are ignored. A for=
// value with a backslash escape is refused rather than unescaped: no address
// needs one.
func forwardedFor(elem string) (netip.Addr, bool) {
	var node string
	found := false
	n := len(elem)
	i := 0
	for {
		i = skipOWS(elem, i)
		start := i
		for i < n && isTchar(elem[i]) {
			i++
		}
		if i == start || i >= n || elem[i] != '=' {
			return netip.Addr{}, false
		}
		name := elem[start:i]
		i++
		var value string
		escaped := false
		if i < n && elem[i] == '"' {
			i++
			vs := i
			for i < n && elem[i] != '"' {
				switch c := elem[i]; {
				case c == '\\':
					escaped = true
					i++
					if i >= n {
						return netip.Addr{}, false
					}
				case !isQdtext(c):
					return netip.Addr{}, false
				}
				i++
			}
			if i >= n {
				return netip.Addr{}, false
			}
			value = elem[vs:i]
			i++
		} else {
			vs := i
			for i < n && isTchar(elem[i]) {
				i++
			}
			if i == vs {
				return netip.Addr{}, false
			}
			value = elem[vs:i]
		}
		if strings.EqualFold(name, "for") {
			if found || escaped {
				return netip.Addr{}, false
			}
			found = true
			node = value
		}
		i = skipOWS(elem, i)
		if i == n {
			break
		}
		if elem[i] != ';' {
			return netip.Addr{}, false
		}
		i++
	}
	if !found {
		return netip.Addr{}, false
	}
	return parseHostPort(node)
}

func skipOWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// isTchar reports whether c may appear in an RFC 9110 token.
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isQdtext reports whether c may appear unescaped in a quoted-string.
func isQdtext(c byte) bool {
	return c == '\t' || c == ' ' || c == 0x21 || (0x23 <= c && c <= 0x5b) || (0x5d <= c && c <= 0x7e) || c >= 0x80
}
