// Package ipfilter decides where a request may come from: it resolves the
// client IP once per request, from the connection and, behind trusted
// proxies, from the header they write; it refuses addresses by static allow
// and deny lists (New); and it enforces each account's own allow-list, the
// B2B rule that an account with entries may call only from them, login and
// token refresh included (ForPrincipal, Allowed).
//
// A typical chain:
//
//	h := errors.Use(errors.Envelope)(
//		ipfilter.New(ipfilter.Config{
//			TrustedProxies: []string{"10.0.0.0/24"}, // the load balancers
//			Deny:           []string{"198.51.100.0/24"},
//		})(
//			middleware.Authenticate(verifier)(
//				ipfilter.ForPrincipal(ipfilter.AccountConfig{Lookup: accounts})(mux))))
//
// Later layers read the address with ClientIP; ratelimit keys by it.
//
// # Threat model
//
// The client controls every request header and the body; it does not
// control the TCP peer address, and it does not control what a trusted
// proxy appends. So the peer (RemoteAddr) is the client IP unless the peer
// is one of Config.TrustedProxies; then, and only then, the one configured
// header is believed, read from the end the proxies write:
//
//   - X-Forwarded-For (the default): every line of the header, merged in
//     order, walked right to left past trusted proxies; the first address
//     that is not one is the client. The leftmost entry, which is what the
//     client wrote, is never believed for being leftmost.
//   - Forwarded (RFC 7239): the same walk over the for= of each element.
//   - A single-IP header named in Config.ProxyHeader (X-Real-IP,
//     CF-Connecting-IP): its last value only.
//
// # A router's "real IP" middleware defeats all of this
//
// Do not put chi's middleware.RealIP, gorilla's handlers.ProxyHeaders, or
// any middleware that copies X-Forwarded-For or X-Real-IP into RemoteAddr,
// in front of tollgate: it makes a header any client can send look like the
// TCP peer, so a spoofed X-Forwarded-For would pass a deny list and get a
// per-IP rate limit of its own. List your proxies in TrustedProxies
// instead. Where it can, tollgate detects it: net/http always writes
// RemoteAddr as "ip:port", those middlewares write a bare address, so a
// bare RemoteAddr on a request that carries a forwarding header, or one
// the header's text contains port and all (what a middleware copying the
// header unchecked writes), leaves the request without a client IP (refused by an allow or deny list, ClientIP
// false, no per-IP key) and logs a warning at most once a minute.
// Config.PortlessRemoteAddr opts out, for servers that really write bare
// addresses.
//
// Only one header is read: a client that sends X-Real-IP through a proxy
// that writes X-Forwarded-For is ignored, where believing both would let it
// choose. A client that is not behind a trusted proxy is never asked.
//
// Garbage fails closed. An entry in the walked part of the chain that is
// not an address ("unknown", an obfuscated RFC 7239 identifier, a host
// name, a bad port, a stray quote) leaves the request with no client IP:
// the walk never skips what it cannot judge to believe something further
// left, where the client writes. Empty list elements ("a,,b", "for=a, ,
// for=b", a trailing comma) are not entries and are skipped, as RFC 9110
// §5.6.1.2 asks; a header of nothing else names no one. A trusted peer that
// sends no header at all (or only empty elements)
// also leaves no client IP (the "too-short chain"): falling back to the
// proxy's own address would make every client behind a proxy that forgot
// the header look like the proxy, which an allow-list of internal ranges
// would let in. With no client IP, an allow or deny list refuses, and
// ClientIP reports false to later layers.
//
// One host has one spelling. IPv4-mapped IPv6 addresses are unmapped
// (::ffff:192.0.2.1 is 192.0.2.1), zones are dropped, ports and brackets are
// parsed ([2001:db8::1]:443), so a client cannot alias a listed address past
// a check. List entries are refused at start-up when they could only
// mislead: a prefix with host bits set (10.0.0.1/8), an IPv4-mapped range
// (::ffff:0:0/96), a zone. An IPv4 client matches IPv4 entries only, so ::/0
// is every IPv6 client and no IPv4 one. Other embeddings of IPv4 in IPv6
// (NAT64 64:ff9b::/96, 6to4 2002::/16) are distinct IPv6 addresses: list
// them as such if your network produces them.
//
// # Choices where the requirements are silent
//
//   - When every entry in the chain is a trusted proxy, the leftmost is the
//     client: a trusted proxy vouched for it (an internal host calling
//     through the load balancer).
//   - TrustedProxies of length 0 (0.0.0.0/0, ::/0) are refused: they would
//     let every client choose its IP.
//   - Deny wins over Allow whatever the prefix lengths; with either list
//     set, an unresolved client IP is refused.
//   - Configuration errors panic in New and ForPrincipal, at start-up, with
//     the field and index of the bad entry; request data never panics.
//     Data an application loads at run time is validated with ParsePrefix
//     or MemoryAccounts.Set, which return errors.
//   - If two filters are chained, the first resolves the client IP and the
//     second reuses it (resolved once per request), applying only its own
//     lists.
//   - Per-account: an error from AccountConfig.Account refuses with 403
//     (ip_denied); an error from the lookup refuses with 503 (unavailable),
//     since it is an outage rather than a verdict on the address, and a
//     client may retry. An empty account name is unrestricted, so a login
//     for an unknown user fails as any bad login does. The 403 a restricted
//     account gets from a wrong address before its password is checked
//     does tell a caller that the account exists and is restricted; that is
//     the price of checking the address first, as the B2B style requires.
//
// # What is written
//
// A refusal is an errors.IPDenied (403), or errors.Unavailable (503) for a
// failed lookup, written by errors.Write in the format chosen by errors.Use.
// The body is the format's generic sentence: neither the address nor any
// header value is ever echoed. The cause (ErrNoClientIP, ErrDenied,
// ErrNotAllowed, the lookup's error) is in errors.Error.Err for logs.
//
// # Cost
//
// Resolution and list matching allocate nothing: header entries are
// substrings of the header, addresses are netip.Addr values, and the static
// lists are sorted disjoint ranges searched in O(log n), so ten thousand
// prefixes cost a binary search of about fourteen steps. The address goes into
// the request's one context node, which the tollgate layers share: behind
// errors.Use, New allocates nothing; as the first layer of the chain it makes
// the node (two allocations: the node and the request copy).
package ipfilter
