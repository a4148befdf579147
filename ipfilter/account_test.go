package ipfilter

import (
	"bytes"
	"context"
	"encoding/json"
	stderrors "errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/principal"
)

// as returns r authenticated as p.
func as(r *http.Request, p *principal.Principal) *http.Request {
	return r.WithContext(principal.NewContext(r.Context(), p))
}

func memoryAccounts(t *testing.T, lists map[string][]string) *MemoryAccounts {
	t.Helper()
	var m MemoryAccounts
	for account, entries := range lists {
		if err := m.Set(account, entries...); err != nil {
			t.Fatal(err)
		}
	}
	return &m
}

func TestForPrincipal(t *testing.T) {
	accounts := memoryAccounts(t, map[string][]string{
		"acme":  {"203.0.113.0/24", "2001:db8:1::/48"},
		"alice": {"198.51.100.9"},
	})
	acme := principal.New(principal.Fields{Subject: "alice", ClientID: "acme"})
	free := principal.New(principal.Fields{Subject: "bob", ClientID: "free"})
	byClient := ForPrincipal(AccountConfig{Lookup: accounts})
	bySubject := ForPrincipal(AccountConfig{Lookup: accounts, Account: BySubject})
	unresolved := func(r *http.Request) *http.Request {
		return r.WithContext(NewContext(r.Context(), netip.Addr{}))
	}

	cases := []struct {
		name    string
		mw      func(http.Handler) http.Handler
		r       *http.Request
		refused error // nil: let through
	}{
		{"account calling from its list passes", byClient, as(request("203.0.113.7:1"), acme), nil},
		{"account calling from its IPv6 list passes", byClient, as(request("[2001:db8:1::5]:1"), acme), nil},
		{"::ffff: form of a listed address passes", byClient, as(request("[::ffff:203.0.113.7]:1"), acme), nil},
		{"account calling from elsewhere is refused", byClient, as(request("192.0.2.1:1"), acme), ErrNotAllowed},
		{"account without a list is unrestricted", byClient, as(request("192.0.2.1:1"), free), nil},
		{"restricted account with no client IP is refused", byClient, unresolved(as(request("203.0.113.7:1"), acme)), ErrNotAllowed},
		{"unrestricted account with no client IP passes", byClient, unresolved(as(request("203.0.113.7:1"), free)), nil},
		{"the resolved client IP is used, not the proxy", byClient,
			as(request("192.0.2.1:1").WithContext(NewContext(context.Background(), netip.MustParseAddr(client))), acme), nil},
		{"request without a principal is refused", byClient, request("203.0.113.7:1"), errNoAccount},
		{"principal without a client id is refused", byClient,
			as(request("203.0.113.7:1"), principal.New(principal.Fields{Subject: "acme"})), errNoAccount},
		{"BySubject reads the subject's list", bySubject, as(request("198.51.100.9:1"), acme), nil},
		{"BySubject refuses from elsewhere", bySubject, as(request("203.0.113.7:1"), acme), ErrNotAllowed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := serve(c.mw, errors.Envelope, c.r)
			if c.refused == nil {
				checkPassed(t, o)
				return
			}
			checkRefused(t, o, http.StatusForbidden, errors.IPDenied, c.refused, "203.0.113", "192.0.2", "acme", "alice")
		})
	}
}

func TestForPrincipalLookupFailure(t *testing.T) {
	outage := stderrors.New("store unreachable at 10.9.9.9")
	failing := ForPrincipal(AccountConfig{Lookup: AccountLookupFunc(func(context.Context, string) ([]netip.Prefix, error) {
		return nil, outage
	})})
	t.Run("a failing lookup refuses with 503 unavailable", func(t *testing.T) {
		o := serve(failing, errors.Envelope, as(request("203.0.113.7:1"), principal.New(principal.Fields{ClientID: "acme"})))
		checkRefused(t, o, http.StatusServiceUnavailable, errors.Unavailable, outage, "10.9.9.9", "unreachable", "203.0.113")
	})
	t.Run("a lookup's own refusal is written as is", func(t *testing.T) {
		own := ForPrincipal(AccountConfig{Lookup: AccountLookupFunc(func(context.Context, string) ([]netip.Prefix, error) {
			return nil, errors.New(errors.Forbidden, "Account suspended")
		})})
		o := serve(own, errors.Envelope, as(request("203.0.113.7:1"), principal.New(principal.Fields{ClientID: "acme"})))
		if o.reached || o.rec.Code != http.StatusForbidden || !strings.Contains(o.rec.Body.String(), "Account suspended") {
			t.Fatalf("reached %v, status %d, body %s", o.reached, o.rec.Code, o.rec.Body)
		}
	})
	t.Run("an account function's own refusal is written as is", func(t *testing.T) {
		mw := ForPrincipal(AccountConfig{Lookup: &MemoryAccounts{}, Account: func(*http.Request) (string, error) {
			return "", errors.New(errors.Validation, "username is required")
		}})
		o := serve(mw, errors.Envelope, request("203.0.113.7:1"))
		if o.reached || o.rec.Code != http.StatusBadRequest || !strings.Contains(o.rec.Body.String(), "VALIDATION_FAILURE") {
			t.Fatalf("reached %v, status %d, body %s", o.reached, o.rec.Code, o.rec.Body)
		}
	})
}

// loginAccount names the account of a login request by the username in its
// JSON body, and leaves the body for the handler.
func loginAccount(r *http.Request) (string, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<16))
	if err != nil {
		return "", errors.Wrap(errors.Syntax, "", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var login struct{ Username string }
	if err := json.Unmarshal(body, &login); err != nil {
		return "", errors.Wrap(errors.Syntax, "", err)
	}
	return login.Username, nil
}

func TestForPrincipalBeforeAuthentication(t *testing.T) {
	accounts := memoryAccounts(t, map[string][]string{"alice": {"203.0.113.0/24"}})
	login := ForPrincipal(AccountConfig{Lookup: accounts, Account: loginAccount})
	post := func(remote, body string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(body))
		r.RemoteAddr = remote
		return r
	}
	t.Run("login from the account's list reaches the handler with its body", func(t *testing.T) {
		var got string
		h := login(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			got = string(b)
		}))
		h.ServeHTTP(httptest.NewRecorder(), post("203.0.113.7:1", `{"username":"alice","password":"x"}`))
		if got != `{"username":"alice","password":"x"}` {
			t.Fatalf("handler read body %q", got)
		}
	})
	t.Run("login from elsewhere is refused before the password is checked", func(t *testing.T) {
		o := serve(login, errors.Envelope, post("192.0.2.1:1", `{"username":"alice","password":"x"}`))
		checkRefused(t, o, http.StatusForbidden, errors.IPDenied, ErrNotAllowed, "192.0.2", "alice")
	})
	t.Run("login for an unknown user goes on to fail as any bad login", func(t *testing.T) {
		checkPassed(t, serve(login, errors.Envelope, post("192.0.2.1:1", `{"username":"mallory"}`)))
	})
	t.Run("unparsable login body is refused with the function's error", func(t *testing.T) {
		o := serve(login, errors.Envelope, post("203.0.113.7:1", `{`))
		if o.reached || o.rec.Code != http.StatusBadRequest || !strings.Contains(o.rec.Body.String(), "SYNTAX_ERROR") {
			t.Fatalf("reached %v, status %d, body %s", o.reached, o.rec.Code, o.rec.Body)
		}
	})
}

func TestClaimLookup(t *testing.T) {
	mw := ForPrincipal(AccountConfig{Lookup: ClaimLookup("allowed_ips")})
	from := func(remote string, claim any) *http.Request {
		claims := map[string]any{}
		if claim != nil {
			claims["allowed_ips"] = claim
		}
		return as(request(remote), principal.New(principal.Fields{ClientID: "acme", Claims: claims}))
	}
	cases := []struct {
		name   string
		claim  any
		remote string
		passes bool
	}{
		{"JSON array: listed address passes", []any{"192.0.2.1", "203.0.113.0/24"}, "203.0.113.7:1", true},
		{"JSON array: other address is refused", []any{"192.0.2.1", "203.0.113.0/24"}, "198.51.100.1:1", false},
		{"string list: listed address passes", "192.0.2.1, 203.0.113.0/24", "203.0.113.7:1", true},
		{"string list: other address is refused", "192.0.2.1 203.0.113.0/24", "198.51.100.1:1", false},
		{"[]string: listed address passes", []string{"203.0.113.7"}, "203.0.113.7:1", true},
		{"absent claim is unrestricted", nil, "198.51.100.1:1", true},
		{"empty array is unrestricted", []any{}, "198.51.100.1:1", true},
		{"empty string is unrestricted", "", "198.51.100.1:1", true},
		{"garbage entry admits no one but keeps the list", []any{"bogus"}, "198.51.100.1:1", false},
		{"garbage entry does not spoil the valid ones", []any{"bogus", "203.0.113.7"}, "203.0.113.7:1", true},
		{"non-canonical entry admits no one", []any{"203.0.113.7/24"}, "203.0.113.7:1", false},
		{"non-string element admits no one", []any{float64(1)}, "203.0.113.7:1", false},
		{"claim of another type restricts to nothing", float64(3), "203.0.113.7:1", false},
		{"object claim restricts to nothing", map[string]any{"ip": "203.0.113.7"}, "203.0.113.7:1", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := serve(mw, errors.Envelope, from(c.remote, c.claim))
			if c.passes {
				checkPassed(t, o)
				return
			}
			checkRefused(t, o, http.StatusForbidden, errors.IPDenied, ErrNotAllowed, "203.0.113", "198.51.100")
		})
	}
	t.Run("without a principal it fails with 503", func(t *testing.T) {
		mw := ForPrincipal(AccountConfig{Lookup: ClaimLookup("allowed_ips"), Account: func(*http.Request) (string, error) { return "acme", nil }})
		o := serve(mw, errors.Envelope, request("203.0.113.7:1"))
		checkRefused(t, o, http.StatusServiceUnavailable, errors.Unavailable, errNoPrincipal)
	})
}

func TestAllowed(t *testing.T) {
	accounts := memoryAccounts(t, map[string][]string{"acme": {"203.0.113.0/24", "fe80::/64"}})
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		account string
		addr    netip.Addr
		want    bool
	}{
		{"listed address", "acme", netip.MustParseAddr("203.0.113.7"), true},
		{"::ffff: form of a listed address", "acme", netip.MustParseAddr("::ffff:203.0.113.7"), true},
		{"zoned form of a listed address", "acme", netip.MustParseAddr("fe80::1%eth0"), true},
		{"unlisted address", "acme", netip.MustParseAddr("192.0.2.1"), false},
		{"no address for a restricted account", "acme", netip.Addr{}, false},
		{"account without a list", "other", netip.MustParseAddr("192.0.2.1"), true},
		{"no account", "", netip.Addr{}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, err := Allowed(ctx, accounts, c.account, c.addr); got != c.want || err != nil {
				t.Fatalf("Allowed = %v, %v; want %v", got, err, c.want)
			}
		})
	}
	t.Run("lookup error is returned and refuses", func(t *testing.T) {
		boom := stderrors.New("boom")
		ok, err := Allowed(ctx, AccountLookupFunc(func(context.Context, string) ([]netip.Prefix, error) { return nil, boom }),
			"acme", netip.MustParseAddr("203.0.113.7"))
		if ok || err != boom {
			t.Fatalf("Allowed = %v, %v; want false, boom", ok, err)
		}
	})
}

func TestMemoryAccounts(t *testing.T) {
	ctx := context.Background()
	var m MemoryAccounts
	if ps, err := m.AllowList(ctx, "acme"); ps != nil || err != nil {
		t.Fatalf("zero value AllowList = %v, %v; want no entries", ps, err)
	}
	if err := m.Set("acme", "203.0.113.0/24"); err != nil {
		t.Fatal(err)
	}
	t.Run("a bad entry is refused and the list is kept", func(t *testing.T) {
		err := m.Set("acme", "192.0.2.0/24", "10.0.0.1/8")
		if err == nil || !strings.Contains(err.Error(), `account "acme": entries[1]: "10.0.0.1/8" is not a canonical prefix`) {
			t.Fatalf("Set error %v", err)
		}
		if ps, _ := m.AllowList(ctx, "acme"); len(ps) != 1 || ps[0] != netip.MustParsePrefix("203.0.113.0/24") {
			t.Fatalf("list after a failed Set: %v", ps)
		}
	})
	t.Run("setting no entries lifts the restriction", func(t *testing.T) {
		if err := m.Set("acme"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := Allowed(ctx, &m, "acme", netip.MustParseAddr("192.0.2.1")); !ok {
			t.Fatal("account still restricted")
		}
	})
}

func TestForPrincipalPanicsWithoutLookup(t *testing.T) {
	defer func() {
		if msg, _ := recover().(string); msg != "ipfilter.ForPrincipal: nil Lookup" {
			t.Fatalf("panic %q", msg)
		}
	}()
	ForPrincipal(AccountConfig{})
}
