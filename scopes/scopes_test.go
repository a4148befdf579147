package scopes_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/scopes"
)

// serve runs guard around a handler that records whether it was reached, for
// a request carrying p (none if nil), with errors written as RFC 9457.
func serve(guard func(http.Handler) http.Handler, p *principal.Principal) (*httptest.ResponseRecorder, bool) {
	reached := false
	h := tgerrors.Use(tgerrors.Problem)(guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true })))
	req := httptest.NewRequest("GET", "/orders", nil)
	if p != nil {
		req = req.WithContext(principal.NewContext(req.Context(), p))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec, reached
}

// The refusal names the scope the route needs, all of it, not only what the
// token lacks: a client that asks its authorization server for exactly the
// challenge's scope gets a token the route admits.
func TestRequire(t *testing.T) {
	im := scopes.Implications{"can_write_order": {"can_read_order"}, "admin": {"can_write_order"}}
	tests := []struct {
		name        string
		guard       func(http.Handler) http.Handler
		granted     []string
		noPrincipal bool
		wantStatus  int
		wantScopes  []string // the refusal's scopes: what to ask for
	}{
		{"all scopes held: admitted", scopes.Require("can_read_order", "can_list"), []string{"can_list", "can_read_order"}, false, 200, nil},
		{"one scope missing: 403 naming every required scope", scopes.Require("can_read_order", "can_list"), []string{"can_list"}, false, 403, []string{"can_read_order", "can_list"}},
		{"no scopes at all: 403 naming both", scopes.Require("a", "b"), nil, false, 403, []string{"a", "b"}},
		{"scope names are exact", scopes.Require("can_read_order"), []string{"CAN_READ_ORDER", "can_read"}, false, 403, []string{"can_read_order"}},
		{"no principal: 401 missing_token (fails closed)", scopes.Require("can_read_order"), nil, true, 401, nil},
		{"any of: one held is enough", scopes.RequireAny("integration.order", "integration.store"), []string{"integration.store"}, false, 200, nil},
		{"any of: none held, 403 naming the first, the least to ask for", scopes.RequireAny("integration.order", "integration.store"), []string{"integration.inventory"}, false, 403, []string{"integration.order"}},
		{"write implies read", im.Require("can_read_order"), []string{"can_write_order"}, false, 200, nil},
		{"implication is transitive", im.Require("can_read_order"), []string{"admin"}, false, 200, nil},
		{"read does not imply write", im.Require("can_write_order"), []string{"can_read_order"}, false, 403, []string{"can_write_order"}},
		{"implied scope held, another missing: 403 naming the route's scopes", im.Require("can_read_order", "can_list"), []string{"admin"}, false, 403, []string{"can_read_order", "can_list"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p *principal.Principal
			if !tt.noPrincipal {
				p = principal.New(principal.Fields{Subject: "s", Scopes: tt.granted})
			}
			rec, reached := serve(tt.guard, p)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if reached != (tt.wantStatus == 200) {
				t.Errorf("handler reached = %v with status %d", reached, rec.Code)
			}
			if tt.wantStatus == 200 {
				return
			}
			var body struct {
				Code   string   `json:"code"`
				Scopes []string `json:"scopes"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			wantCode := "insufficient_scope"
			if tt.wantStatus == 401 {
				wantCode = "missing_token"
			}
			if body.Code != wantCode || !slices.Equal(body.Scopes, tt.wantScopes) {
				t.Errorf("body code %q scopes %q, want %q %q", body.Code, body.Scopes, wantCode, tt.wantScopes)
			}
			ch := rec.Header().Get("WWW-Authenticate")
			if tt.wantStatus == 401 {
				if ch != `Bearer realm="api"` {
					t.Errorf("challenge %q, want the realm alone", ch)
				}
				return
			}
			want := `Bearer realm="api", error="insufficient_scope", error_description="The access token does not grant the required scope", scope="` + strings.Join(tt.wantScopes, " ") + `"`
			if ch != want {
				t.Errorf("challenge %q, want %q", ch, want)
			}
			// A client asking for exactly the challenge's scope succeeds.
			asked := strings.Fields(strings.TrimSuffix(ch[strings.Index(ch, `scope="`)+len(`scope="`):], `"`))
			if rec, reached := serve(tt.guard, principal.New(principal.Fields{Subject: "s", Scopes: asked})); rec.Code != 200 || !reached {
				t.Errorf("a token with exactly the challenge's scope %q: status %d, want 200", asked, rec.Code)
			}
		})
	}
}

// Under a user's format that writes only a body, the refusals keep their
// challenge, realm included.
func TestChallengesSurviveAUserFormat(t *testing.T) {
	bodyOnly := tgerrors.FormatFunc(func(w http.ResponseWriter, r *http.Request, e *tgerrors.Error) {
		w.WriteHeader(e.HTTPStatus())
	})
	for _, tt := range []struct {
		format tgerrors.Format
		p      *principal.Principal
		want   string
	}{
		{bodyOnly, principal.New(principal.Fields{Scopes: []string{"x"}}), `Bearer realm="api", error="insufficient_scope", error_description="The access token does not grant the required scope", scope="a b"`},
		{bodyOnly, nil, `Bearer realm="api"`},
		{tgerrors.WithRealm(bodyOnly, "orders"), nil, `Bearer realm="orders"`},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/", nil)
		if tt.p != nil {
			req = req.WithContext(principal.NewContext(req.Context(), tt.p))
		}
		tgerrors.Use(tt.format)(scopes.Require("a", "b")(http.NotFoundHandler())).ServeHTTP(rec, req)
		if got := rec.Header().Get("WWW-Authenticate"); got != tt.want {
			t.Errorf("WWW-Authenticate %q, want %q", got, tt.want)
		}
	}
}

func TestRequireWithoutScopesPanicsAtStartUp(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Require() with no scope did not panic")
		}
	}()
	scopes.Require()
}

func TestAdmittedCheckDoesNotAllocate(t *testing.T) {
	h := scopes.Require("can_read_order")(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest("GET", "/", nil)
	req = req.WithContext(principal.NewContext(req.Context(), principal.New(principal.Fields{Scopes: []string{"x", "can_read_order"}})))
	rec := httptest.NewRecorder()
	if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(rec, req) }); n != 0 {
		t.Errorf("an admitted request allocates %v times", n)
	}
}
