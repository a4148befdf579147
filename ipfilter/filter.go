package ipfilter

import (
	stderrors "errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/textproto"

	"github.com/tollgate/tollgate/observe"

	"github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/internal/reqstate"
)

// The causes a refusal carries in errors.Error.Err, for logs and
// errors.Is. None of them is ever written to the client, and none names the
// address.
var (
	// ErrNoClientIP: the client IP could not be resolved (RemoteAddr is not
	// an IP, or a trusted proxy's header was missing or malformed), so no
	// list can vouch for the request.
	ErrNoClientIP = stderrors.New("ipfilter: client IP unknown")
	// ErrDenied: the client IP is on the deny list.
	ErrDenied = stderrors.New("ipfilter: client IP on the deny list")
	// ErrNotAllowed: the client IP is not on the allow list (static, or the
	// account's own).
	ErrNotAllowed = stderrors.New("ipfilter: client IP not on the allow list")
)

// Config configures New. The zero value trusts no proxy (the connection's
// peer is the client, and no header is read) and allows every address: it
// only records the client IP for later layers.
//
// Every list entry is a single address or a canonical CIDR prefix, IPv4 or
// IPv6, as ParsePrefix accepts; New panics on the first bad one, naming the
// field and index, so a typo stops the program at start-up rather than
// opening or closing a list silently.
type Config struct {
	// TrustedProxies are the addresses and prefixes of the reverse proxies
	// and load balancers in front of the application. Only when the
	// connection's peer is one of them is ProxyHeader read; its entries
	// that are themselves trusted proxies are skipped. List exactly your
	// proxies: any host in these ranges can name any client IP. A prefix of
	// length 0 (0.0.0.0/0, ::/0) is refused, since it would let every
	// client choose its own IP. Default: none.
	TrustedProxies []string

	// ProxyHeader names the one header the trusted proxies write the client
	// IP into:
	//
	//   - "X-Forwarded-For" (the default): every line of the header, merged
	//     in order, walked right to left past TrustedProxies;
	//   - "Forwarded": RFC 7239, the for= of each element, walked the same
	//     way;
	//   - any other name ("X-Real-IP", "CF-Connecting-IP", "True-Client-IP"):
	//     a single-IP header of which only the last value is read, as a
	//     proxy that sets it replaces or appends to whatever the client sent.
	//
	// Only one header is read: believing two would let a client write the
	// one its proxy does not, and be believed. Make sure your proxy sets or
	// appends to this header on every request. The name is matched
	// case-insensitively. Setting it without TrustedProxies panics: the
	// header would never be read.
	ProxyHeader string

	// Allow, when non-empty, is the only addresses and prefixes that may
	// call; every other client IP, and a client IP that cannot be resolved,
	// is refused. Default: every address may call.
	Allow []string

	// Deny are addresses and prefixes that may not call, even if Allow
	// lists them: Deny wins whatever the prefix lengths. When Deny is set, a
	// client IP that cannot be resolved is refused too, as it cannot be
	// shown not to be denied. Default: none.
	Deny []string

	// PortlessRemoteAddr accepts a RemoteAddr without a port even when the
	// request carries a forwarding header (X-Forwarded-For, X-Real-IP,
	// Forwarded, True-Client-IP, CF-Connecting-IP, X-Client-IP). net/http
	// always writes "ip:port"; a bare address is what a router's "real IP"
	// middleware (chi's middleware.RealIP, gorilla's handlers.ProxyHeaders)
	// writes after copying a header any client can send, which would let a
	// client pick its IP past every list and per-IP limit. So by default
	// such a request's client IP is unknown (refused when Allow or Deny is
	// set) and a warning is logged. Set this only if your server or adapter
	// really writes bare addresses (some serverless adapters do) and no
	// such middleware runs in front.
	PortlessRemoteAddr bool
}

// filter is a compiled Config.
type filter struct {
	resolver
	allow, deny *prefixSet
}

// compile validates cfg and builds its sets.
func compile(cfg Config) (*filter, error) {
	trusted, err := parsePrefixes("TrustedProxies", cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	for i, p := range trusted {
		if p.Bits() == 0 {
			return nil, fmt.Errorf("TrustedProxies[%d]: %q trusts every address, which lets any client choose its IP; list your proxies", i, p.String())
		}
	}
	allow, err := parsePrefixes("Allow", cfg.Allow)
	if err != nil {
		return nil, err
	}
	deny, err := parsePrefixes("Deny", cfg.Deny)
	if err != nil {
		return nil, err
	}
	f := &filter{
		resolver: resolver{trusted: newPrefixSet(trusted), portless: cfg.PortlessRemoteAddr},
		allow:    newPrefixSet(allow),
		deny:     newPrefixSet(deny),
	}
	if cfg.ProxyHeader != "" {
		if len(trusted) == 0 {
			return nil, fmt.Errorf("ProxyHeader %q is set but TrustedProxies is empty, so it would never be read; list the proxies that write it", cfg.ProxyHeader)
		}
		for i := 0; i < len(cfg.ProxyHeader); i++ {
			if !isTchar(cfg.ProxyHeader[i]) {
				return nil, fmt.Errorf("ProxyHeader %q is not a valid header name", cfg.ProxyHeader)
			}
		}
	}
	switch h := textproto.CanonicalMIMEHeaderKey(cfg.ProxyHeader); h {
	case "", "X-Forwarded-For":
		f.header, f.kind = "X-Forwarded-For", headerXFF
	case "Forwarded":
		f.header, f.kind = h, headerForwarded
	default:
		f.header, f.kind = h, headerSingle
	}
	if len(cfg.Allow) == 0 {
		f.allow = nil
	}
	if len(cfg.Deny) == 0 {
		f.deny = nil
	}
	return f, nil
}

// check decides on a resolved client IP: nil to let it through, or the
// cause of the refusal.
func (f *filter) check(a netip.Addr) error {
	if f.allow == nil && f.deny == nil {
		return nil
	}
	switch {
	case !a.IsValid():
		return ErrNoClientIP
	case f.deny.contains(a):
		return ErrDenied
	case f.allow != nil && !f.allow.contains(a):
		return ErrNotAllowed
	}
	return nil
}

// New returns a middleware that resolves each request's client IP once,
// stores it for later layers (ClientIP, ratelimit's by-IP key,
// ForPrincipal), and applies the static Allow and Deny lists. Put it at the
// top of the chain, just below errors.Use.
//
// What it trusts: the connection's peer, and ProxyHeader only when the peer
// is one of TrustedProxies. What it does on garbage: a trusted proxy's
// header that is missing, or malformed anywhere in the part that is walked,
// leaves the request with no client IP (ClientIP reports false) rather than
// falling back to a less trusted value; with Allow or Deny set such a
// request is refused.
//
// A refusal is an errors.IPDenied (403) written by errors.Write in the
// request's format, with the cause (ErrNoClientIP, ErrDenied,
// ErrNotAllowed) in Err; neither the address nor any header is echoed.
// Nothing reaches next.
//
// If a filter earlier in the chain (or the application, with NewContext)
// already resolved the client IP, New takes that answer and applies only its own lists: the IP is resolved once
// per request, and this filter's TrustedProxies and ProxyHeader are not
// used.
//
// Cost: resolution allocates nothing. The result goes into the request's one
// context node: free when a layer above (errors.Use) made it, two
// allocations (the node and the request copy) when New is the first
// tollgate layer.
//
// New panics if any entry of cfg is invalid (see Config).
func New(cfg Config) func(http.Handler) http.Handler {
	f, err := compile(cfg)
	if err != nil {
		panic("ipfilter.New: " + err.Error())
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a, done := resolved(r.Context())
			if !done {
				a = f.resolve(r)
			}
			if err := f.check(a); err != nil {
				observe.Refuse(r.Context(), observe.LayerIPFilter, string(errors.IPDenied))
				errors.Write(w, r, &errors.Error{Kind: errors.IPDenied, Err: err})
				return
			}
			if !done {
				r = reqstate.SetClientIP(r, a)
			}
			next.ServeHTTP(w, r)
		})
	}
}
