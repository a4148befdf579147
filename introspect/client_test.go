package introspect

import (
	"context"
	"encoding/base64"
	"encoding/json"
	stderrors "errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/principal"
)

// t0 is the tests' "now"; every exp and iat below is relative to it.
var t0 = time.Unix(1_900_000_000, 0)

func newClock() *authtest.Clock { return authtest.NewClock(t0) }

// endpoint is a fake introspection endpoint that counts its calls and
// records the last request.
type endpoint struct {
	*httptest.Server
	calls atomic.Int64

	mu       sync.Mutex
	respond  func(w http.ResponseWriter, r *http.Request)
	lastReq  *http.Request
	lastForm url.Values
}

func newEndpoint(t *testing.T, respond func(w http.ResponseWriter, r *http.Request)) *endpoint {
	t.Helper()
	ep := &endpoint{respond: respond}
	ep.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ep.calls.Add(1)
		_ = r.ParseForm()
		ep.mu.Lock()
		ep.lastReq, ep.lastForm = r, r.PostForm
		respond := ep.respond
		ep.mu.Unlock()
		respond(w, r)
	}))
	t.Cleanup(ep.Close)
	return ep
}

func (ep *endpoint) setResponse(respond func(w http.ResponseWriter, r *http.Request)) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ep.respond = respond
}

// answer responds 200 with body as JSON.
func answer(body string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}
}

// status responds with code and a body.
func status(code int, body string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

// activeFor is an active answer expiring d after t0.
func activeFor(d time.Duration) string {
	return fmt.Sprintf(`{"active":true,"sub":"u1","scope":"read","exp":%d}`, t0.Add(d).Unix())
}

func newClient(t *testing.T, ep *endpoint, clk *authtest.Clock, modify func(*Config)) *Client {
	t.Helper()
	cfg := Config{Endpoint: ep.URL, Auth: ClientSecretBasic("orders-api", "s3cret"), Now: clk.Now}
	if modify != nil {
		modify(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// wantRefusal fails unless err is an *errors.Error of kind with its
// status and a generic message.
func wantRefusal(t *testing.T, err error, kind tgerrors.Kind) {
	t.Helper()
	var e *tgerrors.Error
	if !stderrors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *errors.Error of kind %s", err, err, kind)
	}
	if e.Kind != kind || e.HTTPStatus() != kind.Status() {
		t.Fatalf("refused with %s/%d, want %s/%d (err: %v)", e.Kind, e.HTTPStatus(), kind, kind.Status(), err)
	}
	if !strings.HasPrefix(e.Message, "The ") || strings.Contains(e.Message, "introspect") {
		t.Errorf("message %q is not a generic client message", e.Message)
	}
}

const goodToken = "2YotnFZFEjr1zCsicMWpAA"

func TestActiveAnswerMapsEveryFieldIntoThePrincipal(t *testing.T) {
	body := fmt.Sprintf(`{
		"active": true,
		"scope": "can_read_order can_write_order",
		"client_id": "shop-42",
		"username": "jdoe",
		"token_type": "Bearer",
		"exp": %d, "iat": %d, "nbf": %d,
		"sub": "Z5O3upPC88QrAjx00dis",
		"aud": ["https://orders.example.com", "https://billing.example.com"],
		"iss": "https://auth.example.com/",
		"jti": "JlbmMiOiJBMTI4Q0JDLUhTMjU2In",
		"extension_field": "twenty-seven"
	}`, t0.Add(time.Hour).Unix(), t0.Add(-time.Minute).Unix(), t0.Add(-time.Minute).Unix())
	ep := newEndpoint(t, answer(body))
	c := newClient(t, ep, newClock(), func(cfg *Config) { cfg.TokenType = "merchant" })

	p, err := c.Verify(context.Background(), goodToken)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal([]byte(body), &claims); err != nil {
		t.Fatal(err)
	}
	want := principal.New(principal.Fields{
		Subject:   "Z5O3upPC88QrAjx00dis",
		ClientID:  "shop-42",
		Issuer:    "https://auth.example.com/",
		Type:      "merchant",
		TokenID:   "JlbmMiOiJBMTI4Q0JDLUhTMjU2In",
		Audience:  []string{"https://orders.example.com", "https://billing.example.com"},
		Scopes:    []string{"can_read_order", "can_write_order"},
		ExpiresAt: t0.Add(time.Hour),
		IssuedAt:  t0.Add(-time.Minute),
		NotBefore: t0.Add(-time.Minute),
		Claims:    claims,
	})
	if !reflect.DeepEqual(p, want) {
		t.Errorf("principal =\n%+v\nwant\n%+v", p, want)
	}
	if p.StringClaim("username") != "jdoe" || p.StringClaim("token_type") != "Bearer" {
		t.Errorf("username/token_type not kept in Claims: %v", p.Claims())
	}
}

func TestAnswerFieldForms(t *testing.T) {
	tests := []struct {
		name string
		body string
		cfg  func(*Config)
		want func(*principal.Principal) bool
	}{
		{"aud as a single string", `{"active":true,"aud":"orders"}`, nil,
			func(p *principal.Principal) bool { return reflect.DeepEqual(p.Audience(), []string{"orders"}) }},
		{"aud null is absent", `{"active":true,"aud":null}`, nil,
			func(p *principal.Principal) bool { return p.Audience() == nil }},
		{"scope as a JSON array", `{"active":true,"scope":["a","b"]}`, nil,
			func(p *principal.Principal) bool { return reflect.DeepEqual(p.Scopes(), []string{"a", "b"}) }},
		{"scopes from configured claims", `{"active":true,"scope":"x","permissions":["can_read_order"]}`,
			func(c *Config) { c.ScopeClaims = []string{"permissions"} },
			func(p *principal.Principal) bool { return reflect.DeepEqual(p.Scopes(), []string{"can_read_order"}) }},
		{"no jti leaves TokenID empty", `{"active":true}`, nil,
			func(p *principal.Principal) bool { return p.TokenID() == "" && p.ExpiresAt().IsZero() }},
		{"fractional exp", fmt.Sprintf(`{"active":true,"exp":%d.5}`, t0.Unix()+10), nil,
			func(p *principal.Principal) bool { return p.ExpiresAt().Equal(t0.Add(10500 * time.Millisecond)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := newEndpoint(t, answer(tt.body))
			p, err := newClient(t, ep, newClock(), tt.cfg).Verify(context.Background(), goodToken)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !tt.want(p) {
				t.Errorf("unexpected principal %+v", p)
			}
		})
	}
}

func TestOnlyTheJSONValueTrueIsActive(t *testing.T) {
	for _, body := range []string{
		`{"active":false}`,
		`{"active":"true","sub":"u1"}`,
		`{"active":1,"sub":"u1"}`,
		`{"active":null}`,
		`{"sub":"u1","scope":"admin"}`,
		`{}`,
	} {
		t.Run(body, func(t *testing.T) {
			ep := newEndpoint(t, answer(body))
			_, err := newClient(t, ep, newClock(), nil).Verify(context.Background(), goodToken)
			wantRefusal(t, err, tgerrors.InvalidToken)
		})
	}
}

func TestActiveTokensAreStillCheckedByTheResourceServer(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		audiences []string
		want      tgerrors.Kind
	}{
		{"exp passed is refused as expired", activeFor(-time.Second), nil, tgerrors.ExpiredToken},
		{"exp now is refused as expired", activeFor(0), nil, tgerrors.ExpiredToken},
		{"nbf to come is refused as invalid",
			fmt.Sprintf(`{"active":true,"nbf":%d}`, t0.Add(time.Minute).Unix()), nil, tgerrors.InvalidToken},
		{"foreign aud is refused as invalid", `{"active":true,"aud":["billing"]}`, []string{"orders"}, tgerrors.InvalidToken},
		{"missing aud is refused when audiences are configured", `{"active":true}`, []string{"orders"}, tgerrors.InvalidToken},
		{"one of our audiences is accepted", `{"active":true,"aud":["billing","orders"]}`, []string{"x", "orders"}, ""},
		{"aud is not checked when none is configured", `{"active":true,"aud":"billing"}`, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := newEndpoint(t, answer(tt.body))
			c := newClient(t, ep, newClock(), func(c *Config) { c.Audiences = tt.audiences })
			_, err := c.Verify(context.Background(), goodToken)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			wantRefusal(t, err, tt.want)
		})
	}
}

func TestEndpointFailuresAreUnavailable(t *testing.T) {
	tests := []struct {
		name    string
		respond func(w http.ResponseWriter, r *http.Request)
		cfg     func(*Config)
	}{
		{"500", status(500, `{"active":true}`), nil},
		{"503", status(503, ""), nil},
		{"401: our own credentials were refused", status(401, `{"error":"invalid_client"}`), nil},
		{"redirect is not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://elsewhere.example.com/", http.StatusTemporaryRedirect)
		}, nil},
		{"not JSON", answer(`<html>active</html>`), nil},
		{"JSON array", answer(`[{"active":true}]`), nil},
		{"JSON null", answer(`null`), nil},
		{"trailing garbage", answer(`{"active":true} x`), nil},
		{"empty body", answer(``), nil},
		{"body over the cap", answer(`{"active":true,"pad":"` + strings.Repeat("x", 200) + `"}`),
			func(c *Config) { c.MaxResponseBytes = 100 }},
		{"exp not a number", answer(`{"active":true,"exp":"soon"}`), nil},
		{"exp out of range", answer(`{"active":true,"exp":1e300}`), nil},
		{"iat not a number", answer(`{"active":true,"iat":"x"}`), nil},
		{"nbf not a number", answer(`{"active":true,"nbf":true}`), nil},
		{"sub not a string", answer(`{"active":true,"sub":42}`), nil},
		{"jti not a string", answer(`{"active":true,"jti":["a"]}`), nil},
		{"aud holding a number", answer(`{"active":true,"aud":["orders",7]}`), nil},
		{"aud an object", answer(`{"active":true,"aud":{"x":1}}`), nil},
		{"timeout", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
			func(c *Config) { c.Timeout = 20 * time.Millisecond }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := newEndpoint(t, tt.respond)
			c := newClient(t, ep, newClock(), tt.cfg)
			_, err := c.Verify(context.Background(), goodToken)
			wantRefusal(t, err, tgerrors.Unavailable)
			if stderrors.Unwrap(err) == nil {
				t.Errorf("refusal carries no cause")
			}
		})
	}
}

func TestAnAnswerRepeatingATopLevelMemberIsUnavailable(t *testing.T) {
	for name, body := range map[string]string{
		"active false then true": `{"active":false,"active":true,"sub":"u1"}`,
		"active true then false": `{"active":true,"active":false,"sub":"u1"}`,
		"active twice, true":     `{"active":true,"sub":"u1","active":true}`,
		"sub twice":              `{"active":true,"sub":"u1","sub":"admin"}`,
		"names equal unescaped":  `{"active":false,"\u0061ctive":true}`,
	} {
		t.Run(name, func(t *testing.T) {
			ep := newEndpoint(t, answer(body))
			c := newClient(t, ep, newClock(), nil)
			p, err := c.Verify(context.Background(), goodToken)
			if err == nil {
				t.Fatalf("accepted as %+v", p)
			}
			wantRefusal(t, err, tgerrors.Unavailable)
		})
	}
}

func TestAMemberNameRepeatedOnlyInsideANestedValueIsNoDuplicate(t *testing.T) {
	ep := newEndpoint(t, answer(`{"active":true,"sub":"u1","ext":{"sub":"x","active":false,"ext":[{"sub":1}]},"x":["sub","sub"]}`))
	c := newClient(t, ep, newClock(), nil)
	p, err := c.Verify(context.Background(), goodToken)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if p.Subject() != "u1" {
		t.Errorf("Subject = %q, want u1", p.Subject())
	}
}

func TestUnreachableEndpointIsUnavailable(t *testing.T) {
	ep := newEndpoint(t, answer(`{"active":true}`))
	c := newClient(t, ep, newClock(), nil)
	ep.Close()
	_, err := c.Verify(context.Background(), goodToken)
	wantRefusal(t, err, tgerrors.Unavailable)
}

func TestMalformedTokensNeverReachTheEndpoint(t *testing.T) {
	tests := []struct {
		name, token string
	}{
		{"empty", ""},
		{"over MaxTokenBytes", strings.Repeat("a", 65)},
		{"space", "abc def"},
		{"padding in the middle", "abc=def"},
		{"only padding", "=="},
		{"quote", `abc"`},
		{"comma", "abc,def"},
		{"newline", "abc\ndef"},
		{"NUL", "abc\x00"},
		{"non-ASCII", "tökén"},
		{"percent-encoded", "abc%20def"},
	}
	ep := newEndpoint(t, answer(`{"active":true}`))
	c := newClient(t, ep, newClock(), func(c *Config) { c.MaxTokenBytes = 64 })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Verify(context.Background(), tt.token)
			wantRefusal(t, err, tgerrors.InvalidToken)
		})
	}
	if n := ep.calls.Load(); n != 0 {
		t.Errorf("endpoint called %d times for malformed tokens", n)
	}
	for _, ok := range []string{strings.Repeat("a", 64), "a-b.c_d~e+f/g==", "Zm9v"} {
		if _, err := c.Verify(context.Background(), ok); err != nil {
			t.Errorf("Verify(%q): %v", ok, err)
		}
	}
}

func TestTheRequestFollowsRFC7662(t *testing.T) {
	tests := []struct {
		name     string
		cfg      func(*Config)
		wantAuth string
		wantHint string
	}{
		{"Basic with form-encoded id and secret",
			func(c *Config) { c.Auth = ClientSecretBasic("orders api:1", "p@ss w:rd/é+%41") },
			"Basic " + base64.StdEncoding.EncodeToString([]byte("orders+api%3A1:p%40ss+w%3Ard%2F%C3%A9%2B%2541")), ""},
		{"Basic with an empty secret",
			func(c *Config) { c.Auth = ClientSecretBasic("rs", "") },
			"Basic " + base64.StdEncoding.EncodeToString([]byte("rs:")), ""},
		{"bearer token of the resource server",
			func(c *Config) { c.Auth = BearerToken("rs-token") },
			"Bearer rs-token", ""},
		{"token_type_hint when configured",
			func(c *Config) { c.TokenTypeHint = "access_token" },
			"Basic " + base64.StdEncoding.EncodeToString([]byte("orders-api:s3cret")), "access_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := newEndpoint(t, answer(`{"active":true}`))
			if _, err := newClient(t, ep, newClock(), tt.cfg).Verify(context.Background(), goodToken); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			ep.mu.Lock()
			r, form := ep.lastReq, ep.lastForm
			ep.mu.Unlock()
			if r.Method != http.MethodPost {
				t.Errorf("method %s, want POST", r.Method)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
				t.Errorf("Content-Type %q", ct)
			}
			if got := r.Header.Get("Authorization"); got != tt.wantAuth {
				t.Errorf("Authorization %q, want %q", got, tt.wantAuth)
			}
			if got := form.Get("token"); got != goodToken {
				t.Errorf("form token %q", got)
			}
			if got, ok := form["token_type_hint"]; tt.wantHint == "" && ok || tt.wantHint != "" && (len(got) != 1 || got[0] != tt.wantHint) {
				t.Errorf("token_type_hint %q, want %q", got, tt.wantHint)
			}
			if r.URL.RawQuery != "" {
				t.Errorf("query %q: the token must travel only in the body", r.URL.RawQuery)
			}
		})
	}
}

func TestConcurrentMissesForOneTokenShareOneCall(t *testing.T) {
	const n = 1000
	release := make(chan struct{})
	ep := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		answer(activeFor(time.Hour))(w, r)
	})
	c := newClient(t, ep, newClock(), nil)

	var wg sync.WaitGroup
	got := make([]*principal.Principal, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { got[i], errs[i] = c.Verify(context.Background(), goodToken) })
	}
	// Answer only once every request waits for an answer, so that a
	// client calling once per request would be seen calling n times.
	for c.waiting.Load() < n {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()

	if calls := ep.calls.Load(); calls != 1 {
		t.Errorf("%d concurrent requests made %d introspection calls, want 1", n, calls)
	}
	for i := range n {
		if errs[i] != nil || got[i] != got[0] {
			t.Fatalf("request %d: %p, %v; want the shared principal %p", i, got[i], errs[i], got[0])
		}
	}
}

func TestAWaiterGivingUpDoesNotCancelTheCall(t *testing.T) {
	release := make(chan struct{})
	ep := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		answer(activeFor(time.Hour))(w, r)
	})
	c := newClient(t, ep, newClock(), nil)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := c.Verify(ctx, goodToken); done <- err }()
	for c.waiting.Load() < 1 {
		runtime.Gosched()
	}
	cancel()
	wantRefusal(t, <-done, tgerrors.Unavailable)

	second := make(chan error)
	go func() { _, err := c.Verify(context.Background(), goodToken); second <- err }()
	for c.waiting.Load() < 1 {
		runtime.Gosched()
	}
	close(release)
	if err := <-second; err != nil {
		t.Fatalf("second request: %v", err)
	}
	if calls := ep.calls.Load(); calls != 1 {
		t.Errorf("%d calls, want 1", calls)
	}
}

func TestActiveAnswersAreCachedUntilTheEarlierOfExpAndMaxTTL(t *testing.T) {
	tests := []struct {
		name     string
		exp      time.Duration // after t0; 0: no exp
		maxTTL   time.Duration
		lifetime time.Duration
	}{
		{"exp before MaxTTL", time.Minute, 5 * time.Minute, time.Minute},
		{"MaxTTL before exp", time.Hour, 5 * time.Minute, 5 * time.Minute},
		{"no exp: MaxTTL", 0, 2 * time.Minute, 2 * time.Minute},
		{"default MaxTTL", time.Hour, 0, DefaultMaxTTL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"active":true,"sub":"u1"}`
			if tt.exp != 0 {
				body = activeFor(tt.exp)
			}
			ep := newEndpoint(t, answer(body))
			clk := newClock()
			c := newClient(t, ep, clk, func(c *Config) { c.MaxTTL = tt.maxTTL })

			first, err := c.Verify(context.Background(), goodToken)
			if err != nil {
				t.Fatal(err)
			}
			clk.Advance(tt.lifetime - time.Nanosecond)
			if p, err := c.Verify(context.Background(), goodToken); err != nil || p != first {
				t.Fatalf("just before the end of its lifetime: %p, %v; want the cached %p", p, err, first)
			}
			if calls := ep.calls.Load(); calls != 1 {
				t.Fatalf("%d calls within the cache lifetime, want 1", calls)
			}

			ep.setResponse(answer(`{"active":false}`))
			clk.Advance(time.Nanosecond)
			_, err = c.Verify(context.Background(), goodToken)
			wantRefusal(t, err, tgerrors.InvalidToken)
			if calls := ep.calls.Load(); calls != 2 {
				t.Errorf("%d calls after the cache lifetime, want 2", calls)
			}
		})
	}
}

func TestRefusalsAreCachedForNegativeTTL(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		negativeTTL time.Duration
		want        tgerrors.Kind
		wantCalls   int64 // after two requests within the TTL
	}{
		{"inactive", `{"active":false}`, 30 * time.Second, tgerrors.InvalidToken, 1},
		{"expired", activeFor(-time.Hour), 30 * time.Second, tgerrors.ExpiredToken, 1},
		{"default NegativeTTL", `{"active":false}`, 0, tgerrors.InvalidToken, 1},
		{"disabled by a negative NegativeTTL", `{"active":false}`, -1, tgerrors.InvalidToken, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := newEndpoint(t, answer(tt.body))
			clk := newClock()
			c := newClient(t, ep, clk, func(c *Config) { c.NegativeTTL = tt.negativeTTL })
			ttl := tt.negativeTTL
			if ttl == 0 {
				ttl = DefaultNegativeTTL
			}

			for range 2 {
				_, err := c.Verify(context.Background(), goodToken)
				wantRefusal(t, err, tt.want)
			}
			if calls := ep.calls.Load(); calls != tt.wantCalls {
				t.Fatalf("%d calls within NegativeTTL, want %d", calls, tt.wantCalls)
			}
			if ttl < 0 {
				return
			}
			ep.setResponse(answer(activeFor(time.Hour)))
			clk.Advance(ttl)
			if _, err := c.Verify(context.Background(), goodToken); err != nil {
				t.Fatalf("after NegativeTTL the endpoint is asked again: %v", err)
			}
			if calls := ep.calls.Load(); calls != 2 {
				t.Errorf("%d calls, want 2", calls)
			}
		})
	}
}

func TestAFlappingEndpointIsNeverCachedAsDownAndCachedAnswersSurviveIt(t *testing.T) {
	up, down := answer(activeFor(time.Hour)), status(502, "bad gateway")
	ep := newEndpoint(t, down)
	clk := newClock()
	c := newClient(t, ep, clk, func(c *Config) { c.MaxTTL = time.Minute })
	other := "other-token"

	steps := []struct {
		name      string
		respond   func(w http.ResponseWriter, r *http.Request)
		advance   time.Duration
		token     string
		want      tgerrors.Kind
		wantCalls int64
	}{
		{"down, nothing cached: unavailable", down, 0, goodToken, tgerrors.Unavailable, 1},
		{"up again: the endpoint is asked, not a cached failure", up, 0, goodToken, "", 2},
		{"down again: the cached answer is served", down, 30 * time.Second, goodToken, "", 2},
		{"down: another token is unavailable", down, 0, other, tgerrors.Unavailable, 3},
		{"down, cache lifetime over: unavailable", down, 30 * time.Second, goodToken, tgerrors.Unavailable, 4},
		{"up: served and cached again", up, 0, goodToken, "", 5},
		{"down: served from the cache", down, 0, goodToken, "", 5},
	}
	for _, s := range steps {
		ep.setResponse(s.respond)
		clk.Advance(s.advance)
		_, err := c.Verify(context.Background(), s.token)
		if s.want == "" && err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if s.want != "" {
			wantRefusal(t, err, s.want)
		}
		if calls := ep.calls.Load(); calls != s.wantCalls {
			t.Fatalf("%s: %d calls, want %d", s.name, calls, s.wantCalls)
		}
	}
}

func TestCachedHitsHandOutTheSamePrincipal(t *testing.T) {
	ep := newEndpoint(t, answer(`{"active":true,"scope":"can_read_order"}`))
	c := newClient(t, ep, newClock(), nil)
	first, err := c.Verify(context.Background(), goodToken)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Verify(context.Background(), goodToken)
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Errorf("cached hit returned %p, first verification %p", second, first)
	}
	if !second.HasScope("can_read_order") || second.HasScope("can_write_order") {
		t.Errorf("cached principal scopes %v", second.Scopes())
	}
}

func TestTheCacheIsBounded(t *testing.T) {
	ep := newEndpoint(t, answer(activeFor(time.Hour)))
	c := newClient(t, ep, newClock(), func(c *Config) { c.CacheSize = 2 })
	for _, tok := range []string{"t1", "t2", "t3", "t1"} {
		if _, err := c.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.active.Len(); n != 2 {
		t.Errorf("cache holds %d entries, want 2", n)
	}
	if calls := ep.calls.Load(); calls != 4 {
		t.Errorf("%d calls, want 4: t1 was evicted by t3", calls)
	}
}

func TestTheCacheIsKeyedByTheTokenHash(t *testing.T) {
	ep := newEndpoint(t, answer(activeFor(time.Hour)))
	c := newClient(t, ep, newClock(), nil)
	if _, err := c.Verify(context.Background(), goodToken); err != nil {
		t.Fatal(err)
	}
	for _, k := range c.active.Keys() {
		if strings.Contains(string(k[:]), goodToken) {
			t.Errorf("cache key holds the token")
		}
	}
	if _, ok := c.active.Peek(hashToken(goodToken)); !ok {
		t.Errorf("no entry under the token's SHA-256")
	}
}

func TestNewValidatesTheConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"https with Basic", Config{Endpoint: "https://auth.example.com/introspect", Auth: ClientSecretBasic("a", "b")}, true},
		{"https with bearer", Config{Endpoint: "https://auth.example.com/introspect", Auth: BearerToken("t")}, true},
		{"http on loopback", Config{Endpoint: "http://127.0.0.1:9000/i", Auth: ClientSecretBasic("a", "")}, true},
		{"http on localhost", Config{Endpoint: "http://localhost:9000/i", Auth: ClientSecretBasic("a", "")}, true},
		{"http elsewhere with AllowHTTP", Config{Endpoint: "http://auth.internal/i", Auth: ClientSecretBasic("a", ""), AllowHTTP: true}, true},
		{"http elsewhere", Config{Endpoint: "http://auth.internal/i", Auth: ClientSecretBasic("a", "")}, false},
		{"no endpoint", Config{Auth: ClientSecretBasic("a", "")}, false},
		{"relative endpoint", Config{Endpoint: "/introspect", Auth: ClientSecretBasic("a", "")}, false},
		{"other scheme", Config{Endpoint: "ftp://auth.example.com/i", Auth: ClientSecretBasic("a", "")}, false},
		{"no credentials", Config{Endpoint: "https://auth.example.com/i"}, false},
		{"secret without id", Config{Endpoint: "https://auth.example.com/i", Auth: ClientSecretBasic("", "b")}, false},
		{"negative cache size", Config{Endpoint: "https://auth.example.com/i", Auth: ClientSecretBasic("a", ""), CacheSize: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if (err == nil) != tt.ok {
				t.Errorf("New: %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// BenchmarkCachedHit measures Verify for a token already in the cache. The
// SHA-256 over the token is inherent: the cache is keyed by the hash so the
// token itself is never kept.
func BenchmarkCachedHit(b *testing.B) {
	ep := newEndpointB(b, answer(`{"active":true,"sub":"u1","scope":"read"}`))
	c, err := New(Config{Endpoint: ep.URL, Auth: ClientSecretBasic("rs", "s")})
	if err != nil {
		b.Fatal(err)
	}
	token := strings.Repeat("Zm9vYmFy", 6) // 48 bytes, typical of opaque tokens
	ctx := context.Background()
	if _, err := c.Verify(ctx, token); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Verify(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}

func newEndpointB(b *testing.B, respond http.HandlerFunc) *httptest.Server {
	s := httptest.NewServer(respond)
	b.Cleanup(s.Close)
	return s
}
