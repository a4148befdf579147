package middleware_test

import (
	"context"
	"encoding/json"
	stderrors "errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/scopes"
)

// fakeVerifier accepts "good-token" (and any token in accept) and refuses
// everything else with invalid_token; it counts its calls.
type fakeVerifier struct {
	calls  atomic.Int64
	accept map[string]*principal.Principal
	err    error
}

func (f *fakeVerifier) Verify(ctx context.Context, token string) (*principal.Principal, error) {
	f.calls.Add(1)
	if f.err != nil {
		return nil, f.err
	}
	if p, ok := f.accept[token]; ok {
		return p, nil
	}
	return nil, tgerrors.New(tgerrors.InvalidToken, "")
}

var merchant = principal.New(principal.Fields{Subject: "m1", ClientID: "app-1", Issuer: "https://issuer.test", Type: "merchant", TokenID: "jti-1",
	Scopes: []string{"can_read_order"}, Claims: map[string]any{"org_id": "org-7", "app_num": 12.0}})

func newFake() *fakeVerifier {
	return &fakeVerifier{accept: map[string]*principal.Principal{"good-token": merchant, "Z29vZA==": merchant}}
}

type outcome struct {
	rec       *httptest.ResponseRecorder
	reached   bool
	principal *principal.Principal
}

func run(t *testing.T, mw func(http.Handler) http.Handler, req *http.Request) outcome {
	t.Helper()
	var o outcome
	h := tgerrors.Use(tgerrors.OAuthFormat{Realm: "api"})(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.reached = true
		o.principal, _ = principal.From(r.Context())
	})))
	o.rec = httptest.NewRecorder()
	h.ServeHTTP(o.rec, req)
	return o
}

func oauthBody(t *testing.T, rec *httptest.ResponseRecorder) (code string) {
	t.Helper()
	var b struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	return b.Error
}

// The challenges of the invalid_request refusals (RFC 6750 §3: a request
// without a usable token is told why, in the challenge).
const (
	twoCredentials = `Bearer realm="api", error="invalid_request", error_description="The request carries more than one credential"`
	malformedAuth  = `Bearer realm="api", error="invalid_request", error_description="The Authorization header is malformed"`
)

func TestAuthenticate(t *testing.T) {
	long := strings.Repeat("a", middleware.DefaultMaxTokenBytes+1)
	tests := []struct {
		name          string
		headers       []string // Authorization header lines
		target        string
		opts          []middleware.Option
		cookie        string
		wantStatus    int
		wantCode      string // body "error"
		wantChallenge string
		wantVerify    bool // the verifier was consulted
	}{
		{name: "valid bearer token is admitted", headers: []string{"Bearer good-token"}, wantStatus: 200, wantVerify: true},
		{name: "scheme is case-insensitive (bearer)", headers: []string{"bearer good-token"}, wantStatus: 200, wantVerify: true},
		{name: "scheme is case-insensitive (BEARER)", headers: []string{"BEARER good-token"}, wantStatus: 200, wantVerify: true},
		{name: "base64 padding is part of the token", headers: []string{"Bearer Z29vZA=="}, wantStatus: 200, wantVerify: true},
		{name: "no Authorization header is missing_token without error code", wantStatus: 401, wantCode: "missing_token", wantChallenge: `Bearer realm="api"`},
		{name: "another scheme counts as no credentials", headers: []string{"Basic dXNlcjpwYXNz"}, wantStatus: 401, wantCode: "missing_token", wantChallenge: `Bearer realm="api"`},
		{name: "a scheme that only starts with bearer is another scheme", headers: []string{"Bearerx good-token"}, wantStatus: 401, wantCode: "missing_token"},
		{name: "two Authorization headers are invalid_request", headers: []string{"Bearer good-token", "Bearer good-token"}, wantStatus: 400, wantCode: "invalid_request",
			wantChallenge: twoCredentials},
		{name: "Bearer without a token is invalid_request", headers: []string{"Bearer"}, wantStatus: 400, wantCode: "invalid_request",
			wantChallenge: malformedAuth},
		{name: "Bearer with only spaces is invalid_request", headers: []string{"Bearer   "}, wantStatus: 400, wantCode: "invalid_request",
			wantChallenge: malformedAuth},
		{name: "token outside the b64token charset is refused before verification", headers: []string{"Bearer good token"}, wantStatus: 401, wantCode: "invalid_token"},
		{name: "padding in the middle is refused", headers: []string{"Bearer ab=cd"}, wantStatus: 401, wantCode: "invalid_token"},
		{name: "non-ASCII token is refused", headers: []string{"Bearer t\u00f6ken"}, wantStatus: 401, wantCode: "invalid_token"},
		{name: "oversized token is refused before verification", headers: []string{"Bearer " + long}, wantStatus: 401, wantCode: "invalid_token"},
		{name: "token the verifier refuses is invalid_token", headers: []string{"Bearer forged"}, wantStatus: 401, wantCode: "invalid_token",
			wantChallenge: `Bearer realm="api", error="invalid_token", error_description="The access token is invalid"`, wantVerify: true},
		{name: "query token ignored unless enabled", target: "/?access_token=good-token", wantStatus: 401, wantCode: "missing_token"},
		{name: "query token accepted when enabled", target: "/?access_token=good-token", opts: []middleware.Option{middleware.FromQuery("access_token")}, wantStatus: 200, wantVerify: true},
		{name: "header and query token together are invalid_request", headers: []string{"Bearer good-token"}, target: "/?access_token=good-token",
			opts: []middleware.Option{middleware.FromQuery("access_token")}, wantStatus: 400, wantCode: "invalid_request", wantChallenge: twoCredentials},
		{name: "query token given twice is invalid_request", target: "/?access_token=good-token&access_token=good-token",
			opts: []middleware.Option{middleware.FromQuery("access_token")}, wantStatus: 400, wantCode: "invalid_request", wantChallenge: twoCredentials},
		{name: "cookie token ignored unless enabled", cookie: "good-token", wantStatus: 401, wantCode: "missing_token"},
		{name: "cookie token accepted when enabled", cookie: "good-token", opts: []middleware.Option{middleware.FromCookie("session")}, wantStatus: 200, wantVerify: true},
		{name: "header and cookie token together are invalid_request", headers: []string{"Bearer good-token"}, cookie: "good-token",
			opts: []middleware.Option{middleware.FromCookie("session")}, wantStatus: 400, wantCode: "invalid_request", wantChallenge: twoCredentials},
		{name: "custom size cap applies", headers: []string{"Bearer good-token"}, opts: []middleware.Option{middleware.WithMaxTokenBytes(4)}, wantStatus: 401, wantCode: "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newFake()
			target := tt.target
			if target == "" {
				target = "/orders"
			}
			req := httptest.NewRequest("GET", target, nil)
			for _, h := range tt.headers {
				req.Header.Add("Authorization", h)
			}
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: "session", Value: tt.cookie})
			}
			opts := append([]middleware.Option{middleware.OnRefusal(nil)}, tt.opts...)
			o := run(t, middleware.Authenticate(v, opts...), req)
			if o.rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", o.rec.Code, tt.wantStatus, o.rec.Body)
			}
			if (v.calls.Load() > 0) != tt.wantVerify {
				t.Errorf("verifier called %d times, want called = %v", v.calls.Load(), tt.wantVerify)
			}
			if tt.wantStatus == 200 {
				if !o.reached || o.principal != merchant {
					t.Errorf("handler reached %v with principal %v", o.reached, o.principal)
				}
				return
			}
			if o.reached {
				t.Error("a refused request reached the handler")
			}
			if code := oauthBody(t, o.rec); code != tt.wantCode {
				t.Errorf("error %q, want %q", code, tt.wantCode)
			}
			if tt.wantChallenge != "" && o.rec.Header().Get("WWW-Authenticate") != tt.wantChallenge {
				t.Errorf("challenge %q, want %q", o.rec.Header().Get("WWW-Authenticate"), tt.wantChallenge)
			}
		})
	}
}

func TestVerifierKindsReachTheClient(t *testing.T) {
	tests := []struct {
		err        error
		wantStatus int
		wantCode   string
	}{
		{tgerrors.New(tgerrors.ExpiredToken, ""), 401, "invalid_token"},
		{tgerrors.Wrap(tgerrors.Unavailable, "", stderrors.New("jwks: dial tcp 10.0.0.9:443")), 503, "unavailable"},
		{stderrors.New("some internal failure at 10.0.0.9"), 503, "unavailable"},
	}
	nothing := middleware.VerifierFunc(func(context.Context, string) (*principal.Principal, error) { return nil, nil })
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer abc")
	if o := run(t, middleware.Authenticate(nothing, middleware.OnRefusal(nil)), req); o.rec.Code != 401 || oauthBody(t, o.rec) != "invalid_token" || o.reached {
		t.Errorf("a verifier answering neither principal nor error: status %d body %s reached %v, want 401 invalid_token", o.rec.Code, o.rec.Body, o.reached)
	}
	for _, tt := range tests {
		v := &fakeVerifier{err: tt.err}
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer abc")
		o := run(t, middleware.Authenticate(v, middleware.OnRefusal(nil)), req)
		if o.rec.Code != tt.wantStatus || oauthBody(t, o.rec) != tt.wantCode || o.reached {
			t.Errorf("%v: status %d body %s reached %v", tt.err, o.rec.Code, o.rec.Body, o.reached)
		}
		if strings.Contains(o.rec.Body.String(), "10.0.0.9") {
			t.Errorf("internal cause leaked: %s", o.rec.Body)
		}
	}
}

type revocations struct {
	revoked map[string]bool
	err     error
}

func (r revocations) Revoked(ctx context.Context, token string, p *principal.Principal) (bool, error) {
	return r.revoked[p.TokenID()], r.err
}

func TestRevocationIsConsultedAfterVerification(t *testing.T) {
	tests := []struct {
		name       string
		checker    revocations
		wantStatus int
		wantCode   string
	}{
		{"not revoked: admitted", revocations{}, 200, ""},
		{"revoked jti: invalid_token", revocations{revoked: map[string]bool{"jti-1": true}}, 401, "invalid_token"},
		{"checker failing: fails closed with unavailable", revocations{err: stderrors.New("redis down")}, 503, "unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set("Authorization", "Bearer good-token")
			o := run(t, middleware.Authenticate(newFake(), middleware.WithRevocation(tt.checker), middleware.OnRefusal(nil)), req)
			if o.rec.Code != tt.wantStatus || o.reached != (tt.wantStatus == 200) {
				t.Errorf("status %d reached %v, want %d", o.rec.Code, o.reached, tt.wantStatus)
			}
			if tt.wantCode != "" && oauthBody(t, o.rec) != tt.wantCode {
				t.Errorf("error %q, want %q", oauthBody(t, o.rec), tt.wantCode)
			}
			if strings.Contains(o.rec.Body.String(), "redis") {
				t.Errorf("the checker's cause leaked: %s", o.rec.Body)
			}
		})
	}
}

func TestRefusalHookReportsKindIssuerAndClientButNeverTheToken(t *testing.T) {
	var got []middleware.Refusal
	hook := middleware.OnRefusal(func(r *http.Request, ref middleware.Refusal) { got = append(got, ref) })
	mw := middleware.Authenticate(newFake(), hook, middleware.WithRevocation(revocations{revoked: map[string]bool{"jti-1": true}}))
	for _, auth := range []string{"Bearer forged-secret-token", "Bearer good-token"} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", auth)
		run(t, mw, req)
	}
	if len(got) != 2 {
		t.Fatalf("hook saw %d refusals, want 2", len(got))
	}
	if got[0].Kind != tgerrors.InvalidToken || got[0].Issuer != "" {
		t.Errorf("first refusal %+v", got[0])
	}
	if got[1].Kind != tgerrors.InvalidToken || got[1].Issuer != merchant.Issuer() || got[1].ClientID != merchant.ClientID() {
		t.Errorf("revoked refusal %+v, want issuer and client id", got[1])
	}
	for _, ref := range got {
		if ref.Err != nil && strings.Contains(ref.Err.Error(), "forged-secret-token") {
			t.Error("the hook was given the token")
		}
	}
}

func TestAuthenticateAdmittedRequestAllocatesOnlyTheContext(t *testing.T) {
	h := middleware.Authenticate(newFake())(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer good-token")
	rec := httptest.NewRecorder()
	// One context node and one shallow copy of the request.
	if n := testing.AllocsPerRun(200, func() { h.ServeHTTP(rec, req) }); n > 2 {
		t.Errorf("an admitted request allocates %v times, want at most 2", n)
	}
}

func TestAuthenticateBehindUseAllocatesNothing(t *testing.T) {
	h := tgerrors.Use(tgerrors.Problem)(middleware.Authenticate(newFake())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := principal.From(r.Context()); !ok || p != merchant {
			t.Error("the handler does not see the principal")
		}
	})))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer good-token")
	rec := httptest.NewRecorder()
	// errors.Use makes the request's one context node (two allocations);
	// Authenticate fills it in place.
	if n := testing.AllocsPerRun(200, func() { h.ServeHTTP(rec, req) }); n > 2 {
		t.Errorf("Use + Authenticate allocate %v times, want at most 2", n)
	}
}

// A batch endpoint runs sub-requests built on its own request's context
// through a guarded handler, concurrently. Each sub-request is judged on its
// own token: one without a token is refused, and no sub-request's principal
// reaches the batch request or a sibling.
func TestSubRequestsAreJudgedOnTheirOwnTokens(t *testing.T) {
	guarded := middleware.Authenticate(newFake(), middleware.OnRefusal(nil))(
		scopes.Require("can_read_order")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
		})))
	var outerPrincipal bool
	batch := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var wg sync.WaitGroup
		codes := make([]int, 40)
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sub := httptest.NewRequestWithContext(r.Context(), "GET", "/orders/1", nil)
				if i%2 == 0 {
					sub.Header.Set("Authorization", "Bearer good-token")
				}
				rec := httptest.NewRecorder()
				guarded.ServeHTTP(rec, sub)
				codes[i] = rec.Code
			}()
		}
		wg.Wait()
		for i, code := range codes {
			want := http.StatusOK
			if i%2 == 1 {
				want = http.StatusUnauthorized
			}
			if code != want {
				t.Errorf("sub-request %d: status %d, want %d", i, code, want)
			}
		}
		_, outerPrincipal = principal.From(r.Context())
	})
	tgerrors.Use(tgerrors.Envelope)(batch).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/batch", nil))
	if outerPrincipal {
		t.Error("a sub-request's principal reached the batch request")
	}
}

func TestNewContextLeavesTheParentAsItWas(t *testing.T) {
	var parentSees bool
	tgerrors.Use(tgerrors.Envelope)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		child := principal.NewContext(r.Context(), merchant)
		if p, ok := principal.From(child); !ok || p != merchant {
			t.Error("the child context does not carry the principal")
		}
		_, parentSees = principal.From(r.Context())
	})).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if parentSees {
		t.Error("NewContext on a child wrote the principal into the request's context")
	}
}

// recordHandler keeps the refusal records it is given.
type recordHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "tollgate: request refused" {
		return nil // another test's verifier refreshing keys in the background
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r)
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

func TestTheDefaultRefusalHookLogsKindAndIssuerButNeverTheToken(t *testing.T) {
	logs := &recordHandler{}
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(logs))

	outage := &fakeVerifier{err: tgerrors.Wrap(tgerrors.Unavailable, "", stderrors.New("jwks fetch failed"))}
	for _, c := range []struct {
		v     middleware.Verifier
		opts  []middleware.Option
		token string
	}{
		{newFake(), nil, "forged-secret-token"},
		{outage, nil, "another-secret-token"},
		{newFake(), []middleware.Option{middleware.WithRevocation(revocations{revoked: map[string]bool{"jti-1": true}})}, "good-token"},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer "+c.token)
		run(t, middleware.Authenticate(c.v, c.opts...), req)
	}

	if len(logs.records) != 3 {
		t.Fatalf("%d records, want one per refusal (3)", len(logs.records))
	}
	type line struct {
		level slog.Level
		attrs map[string]string
	}
	var got []line
	for _, r := range logs.records {
		l := line{r.Level, map[string]string{}}
		r.Attrs(func(a slog.Attr) bool { l.attrs[a.Key] = a.Value.String(); return true })
		for _, v := range l.attrs {
			if strings.Contains(v, "secret-token") || strings.Contains(v, "good-token") {
				t.Errorf("the log carries the token: %v", l.attrs)
			}
		}
		got = append(got, l)
	}
	if got[0].level != slog.LevelInfo || got[0].attrs["kind"] != "invalid_token" {
		t.Errorf("a forged token: %v %v, want Info invalid_token", got[0].level, got[0].attrs)
	}
	if got[1].level != slog.LevelWarn || got[1].attrs["kind"] != "unavailable" || got[1].attrs["cause"] == "" {
		t.Errorf("an outage: %v %v, want Warn unavailable with its cause", got[1].level, got[1].attrs)
	}
	if got[2].attrs["issuer"] != merchant.Issuer() || got[2].attrs["client_id"] != merchant.ClientID() {
		t.Errorf("a revoked token: %v, want its issuer and client id", got[2].attrs)
	}
}

// RFC 6750 §2.3: a response to a request whose token was in the URL carries
// Cache-Control: private, so no shared cache stores what the token granted.
// A cookie is no better (a shared cache ignores it, while it does not reuse
// a response to a request with Authorization, RFC 9111 §3.5), so it is
// treated the same. Whatever the handler sets, the response stays private;
// a refusal below stays no-store; a header token's response is left alone.
func TestATokenOutsideTheAuthorizationHeaderMakesTheResponsePrivate(t *testing.T) {
	opts := []middleware.Option{middleware.FromQuery("access_token"), middleware.FromCookie("session"), middleware.OnRefusal(nil)}
	set := func(v string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", v)
			w.Write([]byte("ok"))
		}
	}
	tests := []struct {
		name    string
		source  string // header, query, cookie
		handler http.Handler
		want    string
	}{
		{"query token, handler writes nothing", "query", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), "private"},
		{"query token, handler writes a body", "query", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }), "private"},
		{"cookie token, handler writes a status", "cookie", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }), "private"},
		{"query token, handler sets max-age", "query", set("max-age=60"), "private, max-age=60"},
		{"query token, handler sets public", "query", set("public, max-age=60"), "private, max-age=60"},
		{"query token, handler makes only a field private", "query", set(`private="Set-Cookie", max-age=60`), "private, max-age=60"},
		{"query token, handler sets private itself", "query", set("private, max-age=5"), "private, max-age=5"},
		{"query token, handler sets no-store", "query", set("no-store"), "no-store"},
		{"query token, handler flushes", "query", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "public")
			w.(http.Flusher).Flush()
		}), "private"},
		{"query token, a later layer refuses", "query", scopes.Require("can_refund_order")(http.NotFoundHandler()), "no-store"},
		{"header token, handler writes a body", "header", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }), ""},
		{"header token, handler sets public", "header", set("public, max-age=60"), "public, max-age=60"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/orders", nil)
			switch tt.source {
			case "header":
				req.Header.Set("Authorization", "Bearer good-token")
			case "query":
				req = httptest.NewRequest("GET", "/orders?access_token=good-token", nil)
			case "cookie":
				req.AddCookie(&http.Cookie{Name: "session", Value: "good-token"})
			}
			rec := httptest.NewRecorder()
			tgerrors.Use(tgerrors.OAuth)(middleware.Authenticate(newFake(), opts...)(tt.handler)).ServeHTTP(rec, req)
			if got := rec.Result().Header.Get("Cache-Control"); got != tt.want {
				t.Errorf("Cache-Control %q, want %q (status %d)", got, tt.want, rec.Code)
			}
		})
	}
}

// The handler of a query-token request (an EventSource or a WebSocket, which
// cannot send headers) still reaches the connection's optional interfaces.
func TestAPrivateResponseKeepsTheWritersInterfaces(t *testing.T) {
	var flusher, hijacker bool
	h := middleware.Authenticate(newFake(), middleware.FromQuery("access_token"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, flusher = w.(http.Flusher)
		_, hijacker = w.(http.Hijacker)
		rc := http.NewResponseController(w)
		if err := rc.Flush(); err != nil {
			t.Errorf("Flush through the ResponseController: %v", err)
		}
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/events?access_token=good-token")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !flusher || !hijacker {
		t.Errorf("Flusher %v Hijacker %v, want both", flusher, hijacker)
	}
	if got := resp.Header.Get("Cache-Control"); got != "private" {
		t.Errorf("Cache-Control %q, want private", got)
	}
}
