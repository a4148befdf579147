package ratelimit

import (
	"encoding/base64"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/tollgate/tollgate/internal/bearer"
	"github.com/tollgate/tollgate/ipfilter"
	"github.com/tollgate/tollgate/principal"
)

// KeyFunc names the bucket a request is counted against. It reports false
// when the request has no such key (no principal, no header); the middleware
// then tries nothing else, so combine KeyFuncs with FirstKey for fallbacks.
//
// Keys of the built-in KeyFuncs carry a prefix naming their kind ("client:",
// "sub:", "ip:", "header:", "route:"), so a client id can never share a
// bucket with an IP address that spells the same. A KeyFunc the application
// writes should do the same if it is combined with others.
type KeyFunc func(r *http.Request) (key string, ok bool)

// KeyByPrincipal keys by the authenticated caller: its client id, or its
// subject when the token has no client id. It reports false on requests
// that carry no principal (see principal.From), so put it after
// authentication.
func KeyByPrincipal(r *http.Request) (string, bool) {
	p, ok := principal.From(r.Context())
	if !ok {
		return "", false
	}
	if p.ClientID() != "" {
		return "client:" + p.ClientID(), true
	}
	if p.Subject() != "" {
		return "sub:" + p.Subject(), true
	}
	return "", false
}

// KeyByIP keys by the client IP that ipfilter resolved (see
// ipfilter.ClientIP; trusted proxies are applied there, never here). IPv4
// addresses are keyed whole; IPv6 addresses by their /64, since one
// subscriber commonly holds a whole /64 and could otherwise mint a fresh
// bucket per address. It reports false when the client IP is unknown.
func KeyByIP(r *http.Request) (string, bool) {
	return keyByIPPrefix(r, 32, 64)
}

// KeyByIPPrefix is KeyByIP with the prefix lengths chosen: every address in
// one /v4Bits (IPv4) or /v6Bits (IPv6) network shares a bucket. It panics if
// v4Bits is not in 0..32 or v6Bits not in 0..128.
func KeyByIPPrefix(v4Bits, v6Bits int) KeyFunc {
	if v4Bits < 0 || v4Bits > 32 || v6Bits < 0 || v6Bits > 128 {
		panic("ratelimit.KeyByIPPrefix: prefix length out of range")
	}
	return func(r *http.Request) (string, bool) { return keyByIPPrefix(r, v4Bits, v6Bits) }
}

func keyByIPPrefix(r *http.Request, v4Bits, v6Bits int) (string, bool) {
	a, ok := ipfilter.ClientIP(r)
	if !ok {
		return "", false
	}
	a = a.Unmap().WithZone("")
	bits := v6Bits
	if a.Is4() {
		bits = v4Bits
	}
	if bits < a.BitLen() {
		p, err := a.Prefix(bits)
		if err != nil {
			return "", false
		}
		return ipKey(p.Addr(), bits, true), true
	}
	return ipKey(a, bits, false), true
}

// ipKey formats "ip:" + addr (+ "/bits") with one allocation.
func ipKey(a netip.Addr, bits int, prefix bool) string {
	var buf [64]byte
	b := append(buf[:0], "ip:"...)
	b = a.AppendTo(b)
	if prefix {
		b = append(b, '/')
		if bits >= 100 {
			b = append(b, byte('0'+bits/100))
		}
		if bits >= 10 {
			b = append(b, byte('0'+bits/10%10))
		}
		b = append(b, byte('0'+bits%10))
	}
	return string(b)
}

// KeyByHeader keys by the value of the request header name (an API key, a
// tenant id). It reports false when the header is absent or empty. The
// header is whatever the client sent: key by it only where it was verified
// earlier in the chain, or where a forged value only hurts its sender.
func KeyByHeader(name string) KeyFunc {
	name = http.CanonicalHeaderKey(name)
	prefix := "header:" + strings.ToLower(name) + ":"
	return func(r *http.Request) (string, bool) {
		v := r.Header[name]
		if len(v) == 0 || v[0] == "" {
			return "", false
		}
		return prefix + v[0], true
	}
}

// KeyByToken keys by the request's credential, so every API token or key
// has a bucket of its own even when several belong to one client: the
// bearer token of the Authorization header, else the value of the first of
// headers present (KeyByToken("X-API-Key")). The key is a SHA-256 digest of
// the credential ("token:" and 22 base64url characters of its first 128
// bits), never the credential itself, so no store or log sees the secret. It
// reports false when the request carries no credential. Put it after
// Authenticate, which refuses a request with a bad or several credentials
// before it is counted; in front of it, a client could make up tokens to get
// fresh buckets.
func KeyByToken(headers ...string) KeyFunc {
	canon := make([]string, len(headers))
	for i, h := range headers {
		canon[i] = http.CanonicalHeaderKey(h)
	}
	return func(r *http.Request) (string, bool) {
		cred, res := bearer.FromHeader(r.Header)
		if res != bearer.Found {
			cred = ""
		}
		for _, h := range canon {
			if cred != "" {
				break
			}
			if v := r.Header[h]; len(v) > 0 {
				cred = v[0]
			}
		}
		if cred == "" {
			return "", false
		}
		sum := bearer.Sum256(cred)
		var b [6 + 22]byte
		copy(b[:], "token:")
		base64.RawURLEncoding.Encode(b[6:], sum[:16])
		return string(b[:]), true
	}
}

// KeyByRoute keys by the route: the http.ServeMux pattern that matched
// (r.Pattern, e.g. "GET /orders/{id}"), so every order shares one bucket
// rather than one per id. r.Pattern is only set below the mux, so use it in
// a limiter that wraps a handler registered on the mux. It reports false
// when no pattern matched, rather than keying by the raw path, which the
// client chooses freely.
func KeyByRoute(r *http.Request) (string, bool) {
	if r.Pattern == "" {
		return "", false
	}
	return "route:" + r.Pattern, true
}

// KeyByRoutePattern keys by the route pattern a router of your own reports,
// for routers that do not set r.Pattern:
//
//	// chi: in a route's own middleware (r.With(limit).Get(...)) or below a
//	// r.Route group; at the top router, chi has not matched a route yet.
//	ratelimit.KeyByRoutePattern(func(r *http.Request) string {
//		return chi.RouteContext(r.Context()).RoutePattern()
//	})
//
//	// gorilla/mux: in r.Use, which runs after the route matched.
//	ratelimit.KeyByRoutePattern(func(r *http.Request) string {
//		t, _ := mux.CurrentRoute(r).GetPathTemplate()
//		return t
//	})
//
// The key is "route:" followed by r.Method and the pattern ("route:GET
// /orders/{id}"), so one path's methods are counted apart as with
// KeyByRoute. An empty pattern reports false, never the raw path, which the
// client chooses freely. pattern must tolerate a request no route matched.
func KeyByRoutePattern(pattern func(r *http.Request) string) KeyFunc {
	return func(r *http.Request) (string, bool) {
		p := pattern(r)
		if p == "" {
			return "", false
		}
		return "route:" + r.Method + " " + p, true
	}
}

// FirstKey returns the key of the first of fns that has one. The default
// key is FirstKey(KeyByPrincipal, KeyByIP).
func FirstKey(fns ...KeyFunc) KeyFunc {
	return func(r *http.Request) (string, bool) {
		for _, f := range fns {
			if k, ok := f(r); ok {
				return k, true
			}
		}
		return "", false
	}
}

// JoinKeys combines keys: JoinKeys(KeyByPrincipal, KeyByRoute) gives each
// caller its own bucket per route. It reports false if any of fns does. Each
// part is written with its length, so no choice of header value can make two
// different combinations spell the same key.
func JoinKeys(fns ...KeyFunc) KeyFunc {
	return func(r *http.Request) (string, bool) {
		var b strings.Builder
		for i, f := range fns {
			k, ok := f(r)
			if !ok {
				return "", false
			}
			if i > 0 {
				b.WriteByte('|')
			}
			b.WriteString(strconv.Itoa(len(k)))
			b.WriteByte(':')
			b.WriteString(k)
		}
		return b.String(), true
	}
}
