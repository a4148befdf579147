package scopes_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/scopes"
)

// A role is checked against the principal's roles alone: a scope of the
// same name does not pass, and a refusal is forbidden (403) without naming
// the role.
func TestRequireRole(t *testing.T) {
	tests := []struct {
		name        string
		guard       func(http.Handler) http.Handler
		roles       []string
		scopes      []string
		noPrincipal bool
		wantStatus  int
		wantCode    string
	}{
		{"role held: admitted", scopes.RequireRole("admin"), []string{"viewer", "admin"}, nil, false, 200, ""},
		{"role missing: 403 forbidden", scopes.RequireRole("admin"), []string{"viewer"}, nil, false, 403, "forbidden"},
		{"a scope named like the role does not pass", scopes.RequireRole("admin"), nil, []string{"admin"}, false, 403, "forbidden"},
		{"role names are exact", scopes.RequireRole("admin"), []string{"Admin", "admins"}, nil, false, 403, "forbidden"},
		{"no principal: 401 missing_token (fails closed)", scopes.RequireRole("admin"), nil, nil, true, 401, "missing_token"},
		{"any role: one held is enough", scopes.RequireAnyRole("admin", "support"), []string{"support"}, nil, false, 200, ""},
		{"any role: none held, 403", scopes.RequireAnyRole("admin", "support"), []string{"viewer"}, []string{"admin", "support"}, false, 403, "forbidden"},
		{"a role does not pass a scope check", scopes.Require("admin"), []string{"admin"}, nil, false, 403, "insufficient_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p *principal.Principal
			if !tt.noPrincipal {
				p = principal.New(principal.Fields{Subject: "s", Roles: tt.roles, Scopes: tt.scopes})
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
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if body["code"] != tt.wantCode {
				t.Errorf("code %v, want %s", body["code"], tt.wantCode)
			}
			for _, r := range []string{"admin", "support"} {
				if tt.wantCode == "forbidden" && strings.Contains(rec.Body.String(), r) {
					t.Errorf("the refusal names the role %q: %s", r, rec.Body)
				}
			}
		})
	}
}

// Under RFC 6750, a missing role is no scope problem: 403 without an
// insufficient_scope challenge that would send the client to ask for a scope.
func TestMissingRoleSendsNoScopeChallenge(t *testing.T) {
	h := tgerrors.Use(tgerrors.OAuthFormat{Realm: "api"})(scopes.RequireRole("admin")(http.NotFoundHandler()))
	req := httptest.NewRequest("GET", "/", nil)
	req = req.WithContext(principal.NewContext(req.Context(), principal.New(principal.Fields{Roles: []string{"viewer"}})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 403 {
		t.Fatalf("status %d, want 403", rec.Code)
	}
	if ch := rec.Header().Get("WWW-Authenticate"); strings.Contains(ch, "insufficient_scope") || strings.Contains(ch, "scope=") {
		t.Errorf("WWW-Authenticate %q asks for a scope", ch)
	}
}

func TestRequireRoleWithoutARolePanicsAtStartUp(t *testing.T) {
	for name, f := range map[string]func(){
		"RequireRole(\"\")":   func() { scopes.RequireRole("") },
		"RequireAnyRole()":    func() { scopes.RequireAnyRole() },
		"RequireAnyRole(a, )": func() { scopes.RequireAnyRole("a", "") },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			f()
		})
	}
}

func TestAdmittedRoleCheckDoesNotAllocate(t *testing.T) {
	p := principal.New(principal.Fields{Roles: []string{"viewer", "admin"}})
	for name, guard := range map[string]func(http.Handler) http.Handler{
		"RequireRole":    scopes.RequireRole("admin"),
		"RequireAnyRole": scopes.RequireAnyRole("support", "admin"),
	} {
		h := guard(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		req := httptest.NewRequest("GET", "/", nil)
		req = req.WithContext(principal.NewContext(req.Context(), p))
		rec := httptest.NewRecorder()
		if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(rec, req) }); n != 0 {
			t.Errorf("%s: an admitted request allocates %v times", name, n)
		}
	}
}
