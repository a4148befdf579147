package ipfilter

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// header is one header line a request carries; repeating a name sends
// several lines.
type header struct{ name, value string }

func request(remote string, hs ...header) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = remote
	for _, h := range hs {
		r.Header.Add(h.name, h.value)
	}
	return r
}

// resolveThrough runs r through New(cfg) and returns what a later layer
// reads with ClientIP.
func resolveThrough(t *testing.T, cfg Config, r *http.Request) (netip.Addr, bool) {
	t.Helper()
	var (
		got     netip.Addr
		ok      bool
		reached bool
	)
	h := New(cfg)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
		got, ok = ClientIP(r)
	}))
	h.ServeHTTP(httptest.NewRecorder(), r)
	if !reached {
		t.Fatal("a filter with no lists refused the request")
	}
	return got, ok
}

var proxies = []string{"10.0.0.0/24", "2001:db8:ff::/64"}

const (
	proxy   = "10.0.0.1:443"
	client  = "203.0.113.7"
	unknown = "" // the want of a case that must fail closed
)

type resolveCase struct {
	name    string
	cfg     Config
	remote  string
	headers []header
	want    string // unknown: ClientIP must report false
}

func runResolveCases(t *testing.T, cases []resolveCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := resolveThrough(t, c.cfg, request(c.remote, c.headers...))
			if c.want == unknown {
				if ok || got.IsValid() {
					t.Fatalf("ClientIP = %v, %v; want no client IP (fail closed)", got, ok)
				}
				return
			}
			if !ok || got != netip.MustParseAddr(c.want) {
				t.Fatalf("ClientIP = %v, %v; want %s", got, ok, c.want)
			}
		})
	}
}

func xff(v string) header { return header{"X-Forwarded-For", v} }

func TestClientIPFromTheConnection(t *testing.T) {
	runResolveCases(t, []resolveCase{
		{name: "no trusted proxies: the peer is the client", remote: "198.51.100.4:5678", want: "198.51.100.4"},
		{name: "no trusted proxies: X-Forwarded-For is ignored", remote: "198.51.100.4:5678",
			headers: []header{xff(client)}, want: "198.51.100.4"},
		{name: "no trusted proxies: X-Real-IP is ignored", remote: "198.51.100.4:5678",
			headers: []header{{"X-Real-IP", client}}, want: "198.51.100.4"},
		{name: "IPv6 peer in brackets", remote: "[2001:db8::9]:443", want: "2001:db8::9"},
		{name: "IPv4-mapped peer is unmapped", remote: "[::ffff:198.51.100.4]:443", want: "198.51.100.4"},
		{name: "zoned peer loses its zone", remote: "[fe80::1%eth0]:443", want: "fe80::1"},
		{name: "peer without a port", remote: "198.51.100.4", want: "198.51.100.4"},
		{name: "peer that is not an IP fails closed", remote: "@", want: unknown},
		{name: "empty peer fails closed", remote: "", want: unknown},
	})
}

func TestClientIPFromXForwardedFor(t *testing.T) {
	cfg := Config{TrustedProxies: proxies}
	runResolveCases(t, []resolveCase{
		{name: "trusted proxy names the client", cfg: cfg, remote: proxy,
			headers: []header{xff(client)}, want: client},
		{name: "untrusted peer cannot name a client", cfg: cfg, remote: "198.51.100.4:5678",
			headers: []header{xff(client)}, want: "198.51.100.4"},
		{name: "leftmost entry written by the client is not believed", cfg: cfg, remote: proxy,
			headers: []header{xff("1.1.1.1, " + client)}, want: client},
		{name: "client claiming a trusted address on the left is not believed", cfg: cfg, remote: proxy,
			headers: []header{xff("10.0.0.9, " + client)}, want: client},
		{name: "walk passes every trusted proxy", cfg: cfg, remote: proxy,
			headers: []header{xff("1.1.1.1, " + client + ", 10.0.0.2,10.0.0.3")}, want: client},
		{name: "several lines are merged in order", cfg: cfg, remote: proxy,
			headers: []header{xff("1.1.1.1"), xff(client + ", 10.0.0.2")}, want: client},
		{name: "a line boundary separates entries like a comma", cfg: cfg, remote: proxy,
			headers: []header{xff(client), xff("10.0.0.2")}, want: client},
		{name: "client line before the proxy's line is not believed", cfg: cfg, remote: proxy,
			headers: []header{xff("10.0.0.9"), xff(client)}, want: client},
		{name: "every entry trusted: the leftmost is the client", cfg: cfg, remote: proxy,
			headers: []header{xff("10.0.0.5, 10.0.0.2")}, want: "10.0.0.5"},
		{name: "too-short chain: trusted peer without the header fails closed", cfg: cfg, remote: proxy,
			want: unknown},
		{name: "too-short chain: an empty header fails closed", cfg: cfg, remote: proxy,
			headers: []header{xff("")}, want: unknown},
		{name: "X-Real-IP is not read when X-Forwarded-For is the header", cfg: cfg, remote: proxy,
			headers: []header{{"X-Real-IP", client}}, want: unknown},
		{name: "Forwarded is not read when X-Forwarded-For is the header", cfg: cfg, remote: proxy,
			headers: []header{{"Forwarded", "for=" + client}}, want: unknown},
		{name: "garbage in the walked chain fails closed", cfg: cfg, remote: proxy,
			headers: []header{xff(client + ", garbage")}, want: unknown},
		{name: "garbage between trusted proxies fails closed", cfg: cfg, remote: proxy,
			headers: []header{xff(client + ", not-an-ip, 10.0.0.2")}, want: unknown},
		{name: "empty entry in the walked chain is ignored (RFC 9110 §5.6.1.2)", cfg: cfg, remote: proxy,
			headers: []header{xff(client + ", , 10.0.0.2")}, want: client},
		{name: "empty entries without spaces are ignored", cfg: cfg, remote: proxy,
			headers: []header{xff("1.1.1.1,," + client + ",,10.0.0.2")}, want: client},
		{name: "a trailing comma is ignored", cfg: cfg, remote: proxy,
			headers: []header{xff(client + ",")}, want: client},
		{name: "trailing commas and spaces are ignored", cfg: cfg, remote: proxy,
			headers: []header{xff(client + ", 10.0.0.2, ,\t, ")}, want: client},
		{name: "a leading comma is ignored", cfg: cfg, remote: proxy,
			headers: []header{xff(", " + client)}, want: client},
		{name: "a header of commas only names no one and fails closed", cfg: cfg, remote: proxy,
			headers: []header{xff(" , ,, ")}, want: unknown},
		{name: "only trusted proxies around empty entries: the leftmost is the client", cfg: cfg, remote: proxy,
			headers: []header{xff(",10.0.0.5,, 10.0.0.2,")}, want: "10.0.0.5"},
		{name: "garbage past empty entries still fails closed", cfg: cfg, remote: proxy,
			headers: []header{xff(client + ", garbage, , 10.0.0.2")}, want: unknown},
		{name: "unknown in the walked chain fails closed", cfg: cfg, remote: proxy,
			headers: []header{xff("unknown")}, want: unknown},
		{name: "an empty line in the walked chain is an empty element, ignored", cfg: cfg, remote: proxy,
			headers: []header{xff(client), xff("")}, want: client},
		{name: "garbage left of the client is never read", cfg: cfg, remote: proxy,
			headers: []header{xff("<script>, " + client)}, want: client},
		{name: "host name fails closed", cfg: cfg, remote: proxy,
			headers: []header{xff("example.com")}, want: unknown},
		{name: "two addresses without a comma fail closed", cfg: cfg, remote: proxy,
			headers: []header{xff("1.1.1.1 " + client)}, want: unknown},
		{name: "leading zeros fail closed", cfg: cfg, remote: proxy,
			headers: []header{xff("203.000.113.7")}, want: unknown},
		{name: "spaces and tabs around entries are allowed", cfg: cfg, remote: proxy,
			headers: []header{xff(" \t" + client + "\t ,  10.0.0.2 ")}, want: client},
		{name: "IPv4 with a port", cfg: cfg, remote: proxy,
			headers: []header{xff(client + ":5555")}, want: client},
		{name: "bad port fails closed", cfg: cfg, remote: proxy,
			headers: []header{xff(client + ":65536")}, want: unknown},
		{name: "empty port fails closed", cfg: cfg, remote: proxy,
			headers: []header{xff(client + ":")}, want: unknown},
		{name: "bracketed IPv6 with a port", cfg: cfg, remote: proxy,
			headers: []header{xff("[2001:db8::7]:443")}, want: "2001:db8::7"},
		{name: "bracketed IPv6", cfg: cfg, remote: proxy,
			headers: []header{xff("[2001:db8::7]")}, want: "2001:db8::7"},
		{name: "bare IPv6", cfg: cfg, remote: proxy,
			headers: []header{xff("2001:db8::7")}, want: "2001:db8::7"},
		{name: "IPv4 in brackets fails closed", cfg: cfg, remote: proxy,
			headers: []header{xff("[" + client + "]")}, want: unknown},
		{name: "unclosed bracket fails closed", cfg: cfg, remote: proxy,
			headers: []header{xff("[2001:db8::7:443")}, want: unknown},
		{name: "junk after the bracket fails closed", cfg: cfg, remote: proxy,
			headers: []header{xff("[2001:db8::7]x")}, want: unknown},
		{name: "::ffff: form of the client is unmapped", cfg: cfg, remote: proxy,
			headers: []header{xff("::ffff:" + client)}, want: client},
		{name: "::ffff: form of a trusted proxy is still trusted", cfg: cfg, remote: proxy,
			headers: []header{xff(client + ", ::ffff:10.0.0.2")}, want: client},
		{name: "::ffff: form of a trusted peer is trusted", cfg: cfg, remote: "[::ffff:10.0.0.1]:443",
			headers: []header{xff(client)}, want: client},
		{name: "zone is stripped", cfg: cfg, remote: proxy,
			headers: []header{xff("fe80::7%eth0")}, want: "fe80::7"},
		{name: "zone in brackets is stripped", cfg: cfg, remote: proxy,
			headers: []header{xff("[fe80::7%25eth0]:80")}, want: "fe80::7"},
		{name: "zone on IPv4 fails closed", cfg: cfg, remote: proxy,
			headers: []header{xff(client + "%eth0")}, want: unknown},
		{name: "empty zone fails closed", cfg: cfg, remote: proxy,
			headers: []header{xff("fe80::7%")}, want: unknown},
		{name: "a zone cannot hide a trusted proxy's spelling", cfg: cfg, remote: proxy,
			headers: []header{xff(client + ", 2001:db8:ff::2%lo")}, want: client},
		{name: "IPv6 trusted proxy", cfg: cfg, remote: "[2001:db8:ff::1]:443",
			headers: []header{xff("2001:db8::7, 2001:db8:ff::2")}, want: "2001:db8::7"},
	})
}

func TestClientIPFromForwarded(t *testing.T) {
	cfg := Config{TrustedProxies: proxies, ProxyHeader: "Forwarded"}
	fwd := func(v string) header { return header{"Forwarded", v} }
	runResolveCases(t, []resolveCase{
		{name: "trusted proxy names the client", cfg: cfg, remote: proxy,
			headers: []header{fwd("for=" + client)}, want: client},
		{name: "untrusted peer cannot name a client", cfg: cfg, remote: "198.51.100.4:5678",
			headers: []header{fwd("for=" + client)}, want: "198.51.100.4"},
		{name: "quoted IPv6 with a port", cfg: cfg, remote: proxy,
			headers: []header{fwd(`for="[2001:db8:cafe::17]:4711"`)}, want: "2001:db8:cafe::17"},
		{name: "other parameters are ignored", cfg: cfg, remote: proxy,
			headers: []header{fwd("proto=https;for=" + client + ";by=10.0.0.1;host=api.example.com")}, want: client},
		{name: "parameter names are case-insensitive", cfg: cfg, remote: proxy,
			headers: []header{fwd("For=" + client)}, want: client},
		{name: "walk passes trusted proxies", cfg: cfg, remote: proxy,
			headers: []header{fwd("for=1.1.1.1, for=" + client + ";proto=https, for=10.0.0.2")}, want: client},
		{name: "several lines are merged", cfg: cfg, remote: proxy,
			headers: []header{fwd("for=1.1.1.1"), fwd("for=" + client), fwd("for=10.0.0.2")}, want: client},
		{name: "obfuscated node left of the client is never read", cfg: cfg, remote: proxy,
			headers: []header{fwd("for=_hidden, for=" + client)}, want: client},
		{name: "unbalanced quote left of the client is never read", cfg: cfg, remote: proxy,
			headers: []header{fwd(`for="1.1.1.1, for=` + client)}, want: client},
		{name: "a comma inside quotes does not split", cfg: cfg, remote: proxy,
			headers: []header{fwd(`for="` + client + `, 1.1.1.1"`)}, want: unknown},
		{name: "for=unknown in the walked chain fails closed", cfg: cfg, remote: proxy,
			headers: []header{fwd("for=unknown")}, want: unknown},
		{name: "obfuscated node in the walked chain fails closed", cfg: cfg, remote: proxy,
			headers: []header{fwd("for=_hidden")}, want: unknown},
		{name: "element without for= fails closed", cfg: cfg, remote: proxy,
			headers: []header{fwd("for=" + client + ", proto=https")}, want: unknown},
		{name: "for= twice fails closed", cfg: cfg, remote: proxy,
			headers: []header{fwd("for=1.1.1.1;for=" + client)}, want: unknown},
		{name: "unquoted IPv6 fails closed", cfg: cfg, remote: proxy,
			headers: []header{fwd("for=2001:db8::7")}, want: unknown},
		{name: "escape in for= fails closed", cfg: cfg, remote: proxy,
			headers: []header{fwd(`for="203.0.113.\7"`)}, want: unknown},
		{name: "unterminated quote fails closed", cfg: cfg, remote: proxy,
			headers: []header{fwd(`for="` + client)}, want: unknown},
		{name: "trailing semicolon fails closed", cfg: cfg, remote: proxy,
			headers: []header{fwd("for=" + client + ";")}, want: unknown},
		{name: "a trailing empty element is ignored (RFC 9110 §5.6.1.2)", cfg: cfg, remote: proxy,
			headers: []header{fwd("for=" + client + ",")}, want: client},
		{name: "empty elements between and after nodes are ignored", cfg: cfg, remote: proxy,
			headers: []header{fwd("for=1.1.1.1, , for=" + client + ", ,for=10.0.0.2,")}, want: client},
		{name: "empty elements without spaces are ignored", cfg: cfg, remote: proxy,
			headers: []header{fwd("for=" + client + ",,for=10.0.0.2,,")}, want: client},
		{name: "an empty line is ignored", cfg: cfg, remote: proxy,
			headers: []header{fwd("for=" + client), fwd(" ")}, want: client},
		{name: "a header of empty elements only fails closed", cfg: cfg, remote: proxy,
			headers: []header{fwd(", ,")}, want: unknown},
		{name: "an element of a lone semicolon is not empty and fails closed", cfg: cfg, remote: proxy,
			headers: []header{fwd("for=" + client + ", ;")}, want: unknown},
		{name: "an element without for= past empty ones still fails closed", cfg: cfg, remote: proxy,
			headers: []header{fwd("for=" + client + ", proto=https, ,")}, want: unknown},
		{name: "::ffff: node is unmapped", cfg: cfg, remote: proxy,
			headers: []header{fwd(`for="[::ffff:` + client + `]"`)}, want: client},
		{name: "too-short chain: no header fails closed", cfg: cfg, remote: proxy,
			want: unknown},
		{name: "X-Forwarded-For is not read when Forwarded is the header", cfg: cfg, remote: proxy,
			headers: []header{xff(client)}, want: unknown},
	})
}

func TestClientIPFromSingleIPHeader(t *testing.T) {
	cfg := Config{TrustedProxies: proxies, ProxyHeader: "x-real-ip"}
	real := func(v string) header { return header{"X-Real-IP", v} }
	runResolveCases(t, []resolveCase{
		{name: "trusted proxy names the client", cfg: cfg, remote: proxy,
			headers: []header{real(client)}, want: client},
		{name: "untrusted peer cannot name a client", cfg: cfg, remote: "198.51.100.4:5678",
			headers: []header{real(client)}, want: "198.51.100.4"},
		{name: "only the last line is read", cfg: cfg, remote: proxy,
			headers: []header{real("1.1.1.1"), real(client)}, want: client},
		{name: "only the last value is read", cfg: cfg, remote: proxy,
			headers: []header{real("1.1.1.1, " + client)}, want: client},
		{name: "the last value is read even if trusted", cfg: cfg, remote: proxy,
			headers: []header{real("10.0.0.9")}, want: "10.0.0.9"},
		{name: "garbage fails closed", cfg: cfg, remote: proxy,
			headers: []header{real(client), real("garbage")}, want: unknown},
		{name: "missing header fails closed", cfg: cfg, remote: proxy,
			headers: []header{xff(client)}, want: unknown},
		{name: "::ffff: form is unmapped", cfg: cfg, remote: proxy,
			headers: []header{real("::ffff:" + client)}, want: client},
		{name: "another single-IP header by name", cfg: Config{TrustedProxies: proxies, ProxyHeader: "CF-Connecting-IP"},
			remote: proxy, headers: []header{real("1.1.1.1"), {"Cf-Connecting-Ip", client}}, want: client},
	})
}

func TestLaterLayersReadTheResolvedIP(t *testing.T) {
	t.Run("ClientIP without a filter is the peer", func(t *testing.T) {
		got, ok := ClientIP(request("[::ffff:198.51.100.4]:80", xff(client)))
		if !ok || got != netip.MustParseAddr("198.51.100.4") {
			t.Fatalf("ClientIP = %v, %v", got, ok)
		}
	})
	t.Run("NewContext with an invalid address records failure", func(t *testing.T) {
		r := request("198.51.100.4:80")
		r = r.WithContext(NewContext(context.Background(), netip.Addr{}))
		if got, ok := ClientIP(r); ok || got.IsValid() {
			t.Fatalf("ClientIP = %v, %v; want no client IP, not the peer", got, ok)
		}
	})
	t.Run("NewContext stores one spelling", func(t *testing.T) {
		r := request("198.51.100.4:80")
		r = r.WithContext(NewContext(context.Background(), netip.MustParseAddr("::ffff:"+client)))
		if got, _ := ClientIP(r); got != netip.MustParseAddr(client) {
			t.Fatalf("ClientIP = %v; want %s", got, client)
		}
	})
	t.Run("a second filter reuses the first one's answer", func(t *testing.T) {
		var got netip.Addr
		inner := New(Config{Allow: []string{client}})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, _ = ClientIP(r)
		}))
		rec := httptest.NewRecorder()
		New(Config{TrustedProxies: proxies})(inner).ServeHTTP(rec, request(proxy, xff(client)))
		if rec.Code != http.StatusOK || got != netip.MustParseAddr(client) {
			t.Fatalf("status %d, ClientIP %v; want 200 and %s", rec.Code, got, client)
		}
	})
}
