package ipfilter

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/tollgate/tollgate/errors"
)

// The request path's promise, checked in every test run (the benchmarks
// report the same figures): resolving and matching allocate nothing.
func TestCommonPathsDoNotAllocate(t *testing.T) {
	f := compiled(t, Config{TrustedProxies: proxies, Allow: randomPrefixes(10000, false), Deny: randomPrefixes(100, true)})
	forwarded := compiled(t, Config{TrustedProxies: proxies, ProxyHeader: "Forwarded"})
	accounts := memoryAccounts(t, map[string][]string{"acme": {"203.0.113.0/24"}})
	var filtered *http.Request
	New(Config{TrustedProxies: proxies})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		filtered = r
	})).ServeHTTP(httptest.NewRecorder(), proxiedRequest())
	direct := request("203.0.113.7:5000")
	proxied := proxiedRequest()
	fwd := request(proxy, header{"Forwarded", `for="[2001:db8::7]:1";proto=https, for=10.0.0.2`})
	emptyXFF := request(proxy, header{"X-Forwarded-For", "1.1.1.1,, " + client + ", , 10.0.0.2,"})
	emptyFwd := request(proxy, header{"Forwarded", "for=" + client + ", , for=10.0.0.2,"})
	zoned := request("[fe80::1%eth0]:80")
	addr := netip.MustParseAddr(client)

	for _, c := range []struct {
		name string
		run  func()
	}{
		{"resolving RemoteAddr", func() { f.resolve(direct) }},
		{"resolving X-Forwarded-For", func() { f.resolve(proxied) }},
		{"resolving Forwarded", func() { forwarded.resolve(fwd) }},
		{"resolving X-Forwarded-For with empty elements", func() { f.resolve(emptyXFF) }},
		{"resolving Forwarded with empty elements", func() { forwarded.resolve(emptyFwd) }},
		{"resolving a zoned address", func() { f.resolve(zoned) }},
		{"matching 10,000 prefixes", func() { _ = f.check(addr) }},
		{"reading ClientIP", func() { ClientIP(filtered) }},
		{"checking an account", func() { _, _ = Allowed(t.Context(), accounts, "acme", addr) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, c.run); n != 0 {
				t.Fatalf("%v allocations per run; want 0", n)
			}
		})
	}
}

// Behind errors.Use, the filter stores the client IP in the request's
// existing context node: an admitted request costs no allocation at all.
func TestFilterBehindUseAllocatesNothing(t *testing.T) {
	h := errors.Use(errors.Envelope)(New(Config{TrustedProxies: proxies, Allow: randomPrefixes(10000, false)})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	use := errors.Use(errors.Envelope)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	req := proxiedRequest()
	rec := httptest.NewRecorder()
	base := testing.AllocsPerRun(100, func() { use.ServeHTTP(rec, req) })
	if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(rec, req) }); n != base {
		t.Errorf("Use + New allocate %v times, Use alone %v: the filter adds allocations", n, base)
	}
}
