package ipfilter

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/errors"
)

// realIP does what chi's middleware.RealIP and gorilla's
// handlers.ProxyHeaders do: it copies a header any client can send into
// RemoteAddr, as a bare address.
func realIP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ip := r.Header.Get("True-Client-IP"); ip != "" {
			r.RemoteAddr = ip
		} else if ip := r.Header.Get("X-Real-IP"); ip != "" {
			r.RemoteAddr = ip
		} else if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			ip, _, _ := strings.Cut(xff, ",")
			r.RemoteAddr = strings.TrimSpace(ip)
		}
		next.ServeHTTP(w, r)
	})
}

func TestARealIPMiddlewareInFrontCannotLetASpoofedHeaderPastTheLists(t *testing.T) {
	cases := []struct {
		name   string
		cfg    Config
		header string
		value  string
	}{
		{"deny list, X-Forwarded-For", Config{Deny: []string{"203.0.113.0/24"}}, "X-Forwarded-For", "192.0.2.1"},
		{"deny list, X-Real-IP", Config{Deny: []string{"203.0.113.0/24"}}, "X-Real-IP", "192.0.2.1"},
		{"deny list, True-Client-IP", Config{Deny: []string{"203.0.113.0/24"}}, "True-Client-IP", "192.0.2.1"},
		{"allow list, IPv6", Config{Allow: []string{"2001:db8::/32"}}, "X-Forwarded-For", "2001:db8::1"},
		{"allow list with trusted proxies", Config{Allow: []string{"192.0.2.0/24"}, TrustedProxies: []string{"192.0.2.0/24"}}, "X-Forwarded-For", "192.0.2.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/orders", nil)
			r.RemoteAddr = "203.0.113.5:40000" // the attacker's real connection
			r.Header.Set(c.header, c.value)
			o := serve(func(h http.Handler) http.Handler { return realIP(New(c.cfg)(h)) }, errors.Envelope, r)
			checkRefused(t, o, http.StatusForbidden, errors.IPDenied, ErrNoClientIP, "192.0.2.1", "203.0.113.5", "2001:db8::1")
		})
	}
}

func TestClientIPIsUnknownWhenRemoteAddrLooksRewritten(t *testing.T) {
	cases := []struct {
		name       string
		remoteAddr string
		header     string
		want       string // "" for unknown
	}{
		{"bare address with X-Forwarded-For", "192.0.2.1", "X-Forwarded-For", ""},
		{"bare IPv6 with Forwarded", "2001:db8::1", "Forwarded", ""},
		{"bare address without a forwarding header", "192.0.2.1", "", "192.0.2.1"},
		{"address with port and X-Forwarded-For", "192.0.2.1:1234", "X-Forwarded-For", "192.0.2.1"},
		{"bracketed IPv6 with port and X-Real-IP", "[2001:db8::1]:443", "X-Real-IP", "2001:db8::1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.remoteAddr
			if c.header != "" {
				r.Header.Set(c.header, "198.51.100.9")
			}
			a, ok := ClientIP(r)
			if got := map[bool]string{true: a.String(), false: ""}[ok]; got != c.want {
				t.Fatalf("ClientIP = %q, want %q", got, c.want)
			}
		})
	}
}

// A server that really writes bare addresses opts in, and is then believed.
func TestPortlessRemoteAddrOptsIntoBareAddresses(t *testing.T) {
	r := httptest.NewRequest("GET", "/orders", nil)
	r.RemoteAddr = "192.0.2.1"
	r.Header.Set("X-Forwarded-For", "192.0.2.1")
	o := serve(New(Config{Allow: []string{"192.0.2.0/24"}, PortlessRemoteAddr: true}), errors.Envelope, r)
	if !o.reached || o.rec.Code != 200 {
		t.Fatalf("status %d reached %v", o.rec.Code, o.reached)
	}
}

// A middleware that copies the header's text as it came, port included,
// is caught too: the header holds the connection's own ip:port.
func TestARemoteAddrCopiedWithItsPortFromAHeaderIsUnknown(t *testing.T) {
	for _, c := range []struct{ header, value, remote string }{
		{"X-Forwarded-For", "10.0.0.1:1", "10.0.0.1:1"},
		{"X-Forwarded-For", "[2001:db8::1]:1", "[2001:db8::1]:1"},
		{"Forwarded", `for="[::1]:80"`, "[::1]:80"},
		{"X-Real-IP", "192.0.2.9:443", "192.0.2.9:443"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set(c.header, c.value)
		r.RemoteAddr = c.remote
		if a, ok := ClientIP(r); ok {
			t.Errorf("%s: %q: RemoteAddr %q copied from the header is taken as the peer %v", c.header, c.value, c.remote, a)
		}
	}
	// A proxy's own connection with the client it names: believed.
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Forwarded-For", "198.51.100.7")
	r.RemoteAddr = "10.0.0.5:34567"
	if a, ok := ClientIP(r); !ok || a.String() != "10.0.0.5" {
		t.Fatalf("a real proxied request: %v %v", a, ok)
	}
}
