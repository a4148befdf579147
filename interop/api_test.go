package interop

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/scopes"
)

// The API under test: an httptest server guarded by tollgate, whose
// handlers count how often they are reached.
const (
	apiAudience = "orders-api"
	scopeRead   = "orders:read"  // granted to the test clients
	scopeAdmin  = "orders:admin" // never granted
)

type guardedAPI struct {
	*httptest.Server
	reached atomic.Int64
	mu      sync.Mutex
	last    *principal.Principal
}

// newAPI serves GET /orders (needs orders:read) and GET /admin (needs
// orders:admin) behind errors.Use(OAuth) and middleware.Authenticate(v).
func newAPI(t *testing.T, v middleware.Verifier, opts ...middleware.Option) *guardedAPI {
	t.Helper()
	a := &guardedAPI{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.reached.Add(1)
		p, _ := principal.From(r.Context())
		a.mu.Lock()
		a.last = p
		a.mu.Unlock()
		io.WriteString(w, "ok")
	})
	mux := http.NewServeMux()
	mux.Handle("GET /orders", scopes.Require(scopeRead)(handler))
	mux.Handle("GET /admin", scopes.Require(scopeAdmin)(handler))
	// Refusals go to the test's log (shown with -v or on failure) rather
	// than to slog.
	opts = append([]middleware.Option{middleware.OnRefusal(func(_ *http.Request, ref middleware.Refusal) {
		t.Logf("refused: %s: %v", ref.Kind, ref.Err)
	})}, opts...)
	a.Server = httptest.NewServer(middleware.Chain(
		tgerrors.Use(tgerrors.OAuth),
		middleware.Authenticate(v, opts...),
	)(mux))
	t.Cleanup(a.Close)
	return a
}

// principal returns the principal the handler saw last.
func (a *guardedAPI) principal() *principal.Principal {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

// want is what one call to the API must answer.
type want struct {
	status    int
	errorCode string // the OAuth body's "error" ("" on 200 and on missing_token)
	challenge string // the WWW-Authenticate header, exactly ("" for none)
}

var (
	wantOK           = want{status: http.StatusOK}
	wantMissingToken = want{status: http.StatusUnauthorized, errorCode: "missing_token", challenge: `Bearer realm="api"`}
	wantInvalidToken = want{status: http.StatusUnauthorized, errorCode: "invalid_token", challenge: `Bearer realm="api", error="invalid_token", error_description="The access token is invalid"`}
	wantInsufficient = want{status: http.StatusForbidden, errorCode: "insufficient_scope", challenge: `Bearer realm="api", error="insufficient_scope", error_description="The access token does not grant the required scope", scope="` + scopeAdmin + `"`}
	wantExpiredToken = want{status: http.StatusUnauthorized, errorCode: "invalid_token", challenge: `Bearer realm="api", error="invalid_token", error_description="The access token expired"`}
)

// call sends GET path with token as a bearer token ("" sends none) and
// checks the answer against w: status, challenge, the body's error code, the
// body "ok" on success, and that the handler was reached exactly when the
// status is 200.
func (a *guardedAPI) call(t *testing.T, path, token string, w want) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	before := a.reached.Load()
	resp, err := a.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	reached := a.reached.Load() - before

	if resp.StatusCode != w.status {
		t.Fatalf("GET %s: status %d, want %d (body %s)", path, resp.StatusCode, w.status, body)
	}
	if got := resp.Header.Get("WWW-Authenticate"); got != w.challenge {
		t.Errorf("GET %s: WWW-Authenticate %q, want %q", path, got, w.challenge)
	}
	if w.status == http.StatusOK {
		if string(body) != "ok" || reached != 1 {
			t.Errorf("GET %s: body %q, handler reached %d times; want \"ok\" once", path, body, reached)
		}
		return
	}
	if reached != 0 {
		t.Errorf("GET %s: refused with %d but the handler was reached", path, resp.StatusCode)
	}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("GET %s: body %q is not JSON: %v", path, body, err)
	}
	if e.Error != w.errorCode {
		t.Errorf("GET %s: error %q, want %q (body %s)", path, e.Error, w.errorCode, body)
	}
	if strings.Contains(string(body), token) && token != "" {
		t.Errorf("GET %s: the body echoes the token", path)
	}
}

// clock is an injectable clock that starts at the real time and moves only
// when told.
type clock = authtest.Clock

func newClock() *clock { return authtest.NewClock(time.Now()) }
