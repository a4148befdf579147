package ipfilter

import (
	stderrors "errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/errors"
)

// outcome is what a request through a middleware produced.
type outcome struct {
	rec     *httptest.ResponseRecorder
	reached bool          // the handler ran
	refusal *errors.Error // what the format was asked to write
}

// serve runs r through mw below errors.Use(format), recording the refusal.
func serve(mw func(http.Handler) http.Handler, format errors.Format, r *http.Request) outcome {
	var o outcome
	recording := errors.FormatFunc(func(w http.ResponseWriter, r *http.Request, e *errors.Error) {
		o.refusal = e
		format.WriteError(w, r, e)
	})
	h := errors.Use(recording)(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.reached = true
	})))
	o.rec = httptest.NewRecorder()
	h.ServeHTTP(o.rec, r)
	return o
}

// checkRefused asserts a refusal: status, kind, cause, the envelope body,
// no handler, and no trace of the address or headers in the response.
func checkRefused(t *testing.T, o outcome, status int, kind errors.Kind, cause error, secrets ...string) {
	t.Helper()
	if o.reached {
		t.Fatal("the handler was reached")
	}
	if o.rec.Code != status {
		t.Fatalf("status %d; want %d", o.rec.Code, status)
	}
	if o.refusal == nil || o.refusal.Kind != kind {
		t.Fatalf("refusal %v; want kind %s", o.refusal, kind)
	}
	if cause != nil && !stderrors.Is(o.refusal, cause) {
		t.Fatalf("refusal cause %v; want %v", o.refusal.Err, cause)
	}
	body := o.rec.Body.String()
	wantBody := map[int]string{
		http.StatusForbidden:          `{"error":{"name":"ForbiddenError","code":"FORBIDDEN",`,
		http.StatusServiceUnavailable: `{"error":{"name":"ServiceUnavailableError","code":"SERVICE_UNAVAILABLE",`,
	}[status]
	if !strings.HasPrefix(body, wantBody) {
		t.Fatalf("body %s; want the envelope format, starting %s", body, wantBody)
	}
	var dump strings.Builder
	for k, vs := range o.rec.Header() {
		dump.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
	}
	dump.WriteString(body)
	for _, s := range secrets {
		if strings.Contains(dump.String(), s) {
			t.Fatalf("response echoes %q:\n%s", s, dump.String())
		}
	}
}

func checkPassed(t *testing.T, o outcome) {
	t.Helper()
	if !o.reached || o.rec.Code != http.StatusOK {
		t.Fatalf("status %d, handler reached %v, body %s; want it let through", o.rec.Code, o.reached, o.rec.Body)
	}
}

func TestStaticLists(t *testing.T) {
	lists := Config{
		TrustedProxies: proxies,
		Allow:          []string{"203.0.113.0/24", "2001:db8:1::/48", "198.51.100.9"},
		Deny:           []string{"203.0.113.66", "2001:db8:1:bad::/64"},
	}
	cases := []struct {
		name    string
		cfg     Config
		r       *http.Request
		refused error // nil: let through
	}{
		{"allowed address passes", lists, request("203.0.113.7:1"), nil},
		{"allowed single address passes", lists, request("198.51.100.9:1"), nil},
		{"allowed IPv6 passes", lists, request("[2001:db8:1::7]:1"), nil},
		{"address outside the allow list is refused", lists, request("198.51.100.10:1"), ErrNotAllowed},
		{"denied address inside an allowed range is refused", lists, request("203.0.113.66:1"), ErrDenied},
		{"denied IPv6 range inside an allowed one is refused", lists, request("[2001:db8:1:bad::1]:1"), ErrDenied},
		{"::ffff: alias of a denied address is refused", lists, request("[::ffff:203.0.113.66]:1"), ErrDenied},
		{"allowed client behind a trusted proxy passes", lists, request(proxy, xff(client)), nil},
		{"client spoofing an allowed address on the left is refused", lists,
			request(proxy, xff("203.0.113.7, 192.0.2.1")), ErrNotAllowed},
		{"untrusted peer sending X-Forwarded-For is judged by its own address", lists,
			request("192.0.2.1:1", xff(client)), ErrNotAllowed},
		{"untrusted peer sending X-Real-IP is judged by its own address", lists,
			request("192.0.2.1:1", header{"X-Real-IP", client}), ErrNotAllowed},
		{"garbage in the chain is refused by an allow list", lists,
			request(proxy, xff(client+", bogus")), ErrNoClientIP},
		{"too-short chain is refused by an allow list", lists, request(proxy), ErrNoClientIP},
		{"unresolvable peer is refused by a deny list", Config{Deny: []string{"192.0.2.0/24"}}, request("bogus"), ErrNoClientIP},
		{"deny list alone lets others pass", Config{Deny: []string{"192.0.2.0/24"}}, request("203.0.113.7:1"), nil},
		{"deny list alone refuses its own", Config{Deny: []string{"192.0.2.0/24"}}, request("192.0.2.1:1"), ErrDenied},
		{"no lists let an unresolvable peer pass", Config{}, request("bogus"), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := serve(New(c.cfg), errors.Envelope, c.r)
			if c.refused == nil {
				checkPassed(t, o)
				return
			}
			secrets := []string{client, "203.0.113", "192.0.2", "198.51.100", "2001:db8", "bogus"}
			if peer, ok := parseHostPort(c.r.RemoteAddr); ok {
				secrets = append(secrets, peer.String())
			}
			checkRefused(t, o, http.StatusForbidden, errors.IPDenied, c.refused, secrets...)
		})
	}
}

func TestRefusalUsesTheConfiguredFormat(t *testing.T) {
	mw := New(Config{Allow: []string{"10.1.0.0/16"}})
	for _, c := range []struct {
		name   string
		format errors.Format
		body   string
	}{
		{"OAuth", errors.OAuth, `{"error":"ip_denied","error_description":"Access from this address is not allowed"}`},
		{"Message", errors.Message, `{"message":"Forbidden"}`},
		{"Envelope", errors.Envelope, `{"error":{"name":"ForbiddenError","code":"FORBIDDEN","message":"Access from this address is not allowed"}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := serve(mw, c.format, request("192.0.2.1:1"))
			if o.reached || o.rec.Code != http.StatusForbidden || strings.TrimSpace(o.rec.Body.String()) != c.body {
				t.Fatalf("reached %v, status %d, body %s; want 403 %s", o.reached, o.rec.Code, o.rec.Body, c.body)
			}
			if o.rec.Header().Get("WWW-Authenticate") != "" {
				t.Fatal("an ip_denied refusal carries a Bearer challenge")
			}
		})
	}
}

func TestNewPanicsOnBadConfiguration(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		says string
	}{
		{"non-canonical allow prefix", Config{Allow: []string{"10.0.0.0/8", "10.0.0.1/8"}},
			`ipfilter.New: Allow[1]: "10.0.0.1/8" is not a canonical prefix (host bits are set); write "10.0.0.0/8"`},
		{"v4-mapped deny range", Config{Deny: []string{"::ffff:0:0/96"}},
			`ipfilter.New: Deny[0]: "::ffff:0:0/96" is an IPv4-mapped IPv6 range`},
		{"garbage trusted proxy", Config{TrustedProxies: []string{"lb.internal"}},
			`ipfilter.New: TrustedProxies[0]: "lb.internal" is not an IP address or CIDR prefix`},
		{"proxy header without proxies", Config{ProxyHeader: "X-Real-IP"},
			`ipfilter.New: ProxyHeader "X-Real-IP" is set but TrustedProxies is empty`},
		{"invalid proxy header name", Config{TrustedProxies: proxies, ProxyHeader: "X Real IP"},
			`ipfilter.New: ProxyHeader "X Real IP" is not a valid header name`},
		{"trusting everyone", Config{TrustedProxies: []string{"10.0.0.1", "::/0"}},
			`ipfilter.New: TrustedProxies[1]: "::/0" trusts every address`},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, c.says) {
					t.Fatalf("panic %q; want it to start %q", msg, c.says)
				}
			}()
			New(c.cfg)
		})
	}
}
