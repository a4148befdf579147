package ipfilter

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// proxiedRequest is the common case behind a load balancer: a trusted peer
// and a two-entry X-Forwarded-For.
func proxiedRequest() *http.Request {
	return request(proxy, xff(client+", 10.0.0.2"))
}

func compiled(tb testing.TB, cfg Config) *filter {
	f, err := compile(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// randomPrefixes returns n distinct-looking prefixes, IPv4 or IPv6, /8 to
// /32 and /32 to /128, from a fixed seed.
func randomPrefixes(n int, v6 bool) []string {
	rng := rand.New(rand.NewPCG(7, 7))
	out := make([]string, n)
	for i := range out {
		var a netip.Addr
		bits := 8 + rng.IntN(25)
		if v6 {
			var b [16]byte
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
			a, bits = netip.AddrFrom16(b), 32+rng.IntN(97)
		} else {
			a = netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
		}
		p, _ := a.Prefix(bits)
		out[i] = p.String()
	}
	return out
}

func BenchmarkResolve(b *testing.B) {
	for _, c := range []struct {
		name string
		cfg  Config
		r    *http.Request
	}{
		{"RemoteAddr", Config{}, request("203.0.113.7:5000")},
		{"XForwardedFor/2hops", Config{TrustedProxies: proxies}, proxiedRequest()},
		{"XForwardedFor/IPv6", Config{TrustedProxies: proxies}, request("[2001:db8:ff::1]:443", xff("[2001:db8::7]:5000, 2001:db8:ff::2"))},
		{"Forwarded/2hops", Config{TrustedProxies: proxies, ProxyHeader: "Forwarded"},
			request(proxy, header{"Forwarded", `for="[2001:db8::7]:5000";proto=https, for=10.0.0.2`})},
		{"XRealIP", Config{TrustedProxies: proxies, ProxyHeader: "X-Real-IP"}, request(proxy, header{"X-Real-IP", client})},
	} {
		b.Run(c.name, func(b *testing.B) {
			f := compiled(b, c.cfg)
			b.ReportAllocs()
			for b.Loop() {
				if !f.resolve(c.r).IsValid() {
					b.Fatal("unresolved")
				}
			}
		})
	}
}

func BenchmarkClientIP(b *testing.B) {
	var r *http.Request
	New(Config{TrustedProxies: proxies})(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r = req
	})).ServeHTTP(httptest.NewRecorder(), proxiedRequest())
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := ClientIP(r); !ok {
			b.Fatal("no client IP")
		}
	}
}

// BenchmarkMiddleware is New's whole cost on a request that passes: two
// allocations, the context node and the request copy.
func BenchmarkMiddleware(b *testing.B) {
	mw := New(Config{TrustedProxies: proxies, Allow: append(randomPrefixes(9999, false), "203.0.113.0/24")})
	handler := mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := proxiedRequest()
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		handler.ServeHTTP(w, r)
	}
}

func BenchmarkMatch10000(b *testing.B) {
	for _, v6 := range []bool{false, true} {
		name := "IPv4"
		if v6 {
			name = "IPv6"
		}
		entries := randomPrefixes(10000, v6)
		ps, err := parsePrefixes("bench", entries)
		if err != nil {
			b.Fatal(err)
		}
		set := newPrefixSet(ps)
		rng := rand.New(rand.NewPCG(3, 3))
		addrs := make([]netip.Addr, 1024)
		for i := range addrs {
			if i%2 == 0 { // half inside a listed prefix, half random
				addrs[i] = ps[rng.IntN(len(ps))].Addr()
				continue
			}
			if v6 {
				var a [16]byte
				for j := range a {
					a[j] = byte(rng.Uint32())
				}
				addrs[i] = netip.AddrFrom16(a)
			} else {
				addrs[i] = netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
			}
		}
		b.Run(name+"/ranges", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				set.contains(addrs[i&1023])
				i++
			}
		})
		b.Run(name+"/linear-scan-for-comparison", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				a := addrs[i&1023]
				for _, p := range ps {
					if p.Contains(a) {
						break
					}
				}
				i++
			}
		})
	}
}

func BenchmarkAllowed(b *testing.B) {
	var m MemoryAccounts
	for i := range 1000 {
		if err := m.Set(fmt.Sprint("account", i), "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"); err != nil {
			b.Fatal(err)
		}
	}
	addr := netip.MustParseAddr(client)
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := Allowed(b.Context(), &m, "account500", addr); !ok {
			b.Fatal("refused")
		}
	}
}
