package apikey_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/apikey"
	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
)

// portal is the management handler behind a stand-in for the portal's own
// login: the bearer "session-mer_1" is merchant mer_1 of org_1.
func portal(t *testing.T, k *apikey.Keys, allowLimits bool) http.Handler {
	t.Helper()
	sessions := middleware.VerifierFunc(func(_ context.Context, token string) (*principal.Principal, error) {
		merchant, ok := strings.CutPrefix(token, "session-")
		if !ok {
			return nil, tgerrors.New(tgerrors.InvalidToken, "")
		}
		return principal.New(principal.Fields{Subject: merchant, Issuer: "https://portal.example.com/",
			Claims: map[string]any{"org_id": "org_" + merchant[4:], "app_id": "app_1"}}), nil
	})
	return middleware.Chain(
		tgerrors.Use(tgerrors.Problem),
		middleware.Authenticate(sessions, middleware.OnRefusal(nil)),
	)(http.StripPrefix("/portal", k.Handler(apikey.HandlerConfig{
		Permissions: []string{"can_read_order", "can_write_order", "can_retrieve_app_config", "can_update_app_config"},
		AllowLimits: allowLimits,
	})))
}

type reply struct {
	status int
	body   map[string]any
	raw    string
}

func do(t *testing.T, h http.Handler, merchant, method, path, body string) reply {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if merchant != "" {
		r.Header.Set("Authorization", "Bearer session-"+merchant)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var m map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &m)
	return reply{w.Code, m, w.Body.String()}
}

func TestThePortalHandlerManagesTheCallersOwnKeys(t *testing.T) {
	k := newKeys(t, apikey.NewMemoryStore(), authtest.NewClock(start))
	h := portal(t, k, true)
	ctx := context.Background()

	created := do(t, h, "mer_1", "POST", "/portal/keys", `{"name":"orders","permissions":["can_read_order"],"expires_at":"2027-01-01T00:00:00Z","rate_limit":{"events":100,"per_seconds":60}}`)
	if created.status != 201 {
		t.Fatalf("create: %d %s", created.status, created.raw)
	}
	token, _ := created.body["token"].(string)
	key, _ := created.body["key"].(map[string]any)
	id, _ := key["id"].(string)
	if key["status"] != "active" || key["hint"] != apikey.Hint(token) || key["org_id"] != "org_1" || strings.Count(created.raw, token) != 1 {
		t.Fatalf("create answered %s", created.raw)
	}
	p, err := k.Verify(ctx, token)
	if err != nil || p.Subject() != "mer_1" || !p.HasScope("can_read_order") || !p.ExpiresAt().Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("the token created: %v, %v (expires %v)", p, err, p.ExpiresAt())
	}
	other := do(t, h, "mer_2", "POST", "/portal/keys", `{"name":"theirs"}`)
	otherID := other.body["key"].(map[string]any)["id"].(string)

	if l := do(t, h, "mer_1", "GET", "/portal/keys", ""); l.status != 200 || len(l.body["keys"].([]any)) != 1 || strings.Contains(l.raw, token) {
		t.Fatalf("list: %d %s", l.status, l.raw)
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/portal/keys/" + otherID},
		{"PATCH", "/portal/keys/" + otherID},
		{"POST", "/portal/keys/" + otherID + "/deactivate"},
		{"POST", "/portal/keys/" + otherID + "/rotate"},
		{"DELETE", "/portal/keys/" + otherID},
		{"GET", "/portal/keys/key_nonexistent"},
	} {
		if got := do(t, h, "mer_1", c.method, c.path, `{"name":"mine now"}`); got.status != 404 || got.body["code"] != "not_found" {
			t.Fatalf("%s %s of another merchant's key: %d %s", c.method, c.path, got.status, got.raw)
		}
	}
	if theirs, _ := k.Get(ctx, otherID); theirs.Status != apikey.Active || theirs.Name != "theirs" || theirs.Version != 1 {
		t.Fatalf("another merchant's key changed: %+v", theirs)
	}

	if u := do(t, h, "mer_1", "PATCH", "/portal/keys/"+id, `{"permissions":["can_read_order","can_write_order"],"expires_at":null}`); u.status != 200 || u.body["expires_at"] != nil {
		t.Fatalf("update: %d %s", u.status, u.raw)
	}
	if p, _ := k.Verify(ctx, token); !p.HasScope("can_write_order") || !p.ExpiresAt().IsZero() {
		t.Fatalf("after update: %v expires %v", p.Scopes(), p.ExpiresAt())
	}
	if d := do(t, h, "mer_1", "POST", "/portal/keys/"+id+"/deactivate", ""); d.status != 200 || d.body["status"] != "inactive" {
		t.Fatalf("deactivate: %d %s", d.status, d.raw)
	}
	if _, err := k.Verify(ctx, token); tgerrors.KindOf(err) != tgerrors.InvalidToken {
		t.Fatalf("after deactivate: %v", err)
	}
	if r := do(t, h, "mer_1", "POST", "/portal/keys/"+id+"/reactivate", ""); r.status != 200 || r.body["status"] != "active" {
		t.Fatalf("reactivate: %d %s", r.status, r.raw)
	}
	rot := do(t, h, "mer_1", "POST", "/portal/keys/"+id+"/rotate", `{"grace_seconds":0}`)
	fresh, _ := rot.body["token"].(string)
	if rot.status != 200 || fresh == "" || fresh == token {
		t.Fatalf("rotate: %d %s", rot.status, rot.raw)
	}
	if _, err := k.Verify(ctx, token); err == nil {
		t.Fatal("the old token works after rotate without grace")
	}
	if del := do(t, h, "mer_1", "DELETE", "/portal/keys/"+id, ""); del.status != 200 || del.body["status"] != "revoked" {
		t.Fatalf("delete: %d %s", del.status, del.raw)
	}
	if again := do(t, h, "mer_1", "POST", "/portal/keys/"+id+"/reactivate", ""); again.status != 409 {
		t.Fatalf("reactivating a revoked key: %d %s", again.status, again.raw)
	}
	if _, err := k.Verify(ctx, fresh); tgerrors.KindOf(err) != tgerrors.InvalidToken {
		t.Fatalf("a revoked key's token: %v", err)
	}
}

func TestThePortalHandlerRefusesBadRequests(t *testing.T) {
	k := newKeys(t, apikey.NewMemoryStore(), authtest.NewClock(start))
	h := portal(t, k, false)
	cases := []struct {
		name, merchant, method, path, body string
		status                             int
		code                               string
	}{
		{"no session", "", "GET", "/portal/keys", "", 401, "missing_token"},
		{"an unknown member", "mer_1", "POST", "/portal/keys", `{"name":"a","owner":"mer_2"}`, 400, "validation"},
		{"not JSON", "mer_1", "POST", "/portal/keys", `{"name":`, 400, "syntax"},
		{"two JSON values", "mer_1", "POST", "/portal/keys", `{"name":"a"}{"name":"b"}`, 400, "validation"},
		{"no name", "mer_1", "POST", "/portal/keys", `{}`, 400, "validation"},
		{"a permission not offered", "mer_1", "POST", "/portal/keys", `{"name":"a","permissions":["admin"]}`, 400, "validation"},
		{"a past expiry", "mer_1", "POST", "/portal/keys", `{"name":"a","expires_at":"2020-01-01T00:00:00Z"}`, 400, "validation"},
		{"a rate limit without AllowLimits", "mer_1", "POST", "/portal/keys", `{"name":"a","rate_limit":{"events":9,"per_seconds":1}}`, 400, "validation"},
		{"remaining uses without AllowLimits", "mer_1", "POST", "/portal/keys", `{"name":"a","remaining_uses":5}`, 400, "validation"},
		{"a huge body", "mer_1", "POST", "/portal/keys", `{"name":"` + strings.Repeat("a", 70<<10) + `"}`, 400, "validation"},
		{"a bad page size", "mer_1", "GET", "/portal/keys?limit=0", "", 400, "validation"},
		{"an unknown path", "mer_1", "GET", "/portal/nothing", "", 404, "not_found"},
		{"a wrong method", "mer_1", "PUT", "/portal/keys", "", 404, "not_found"},
	}
	for _, c := range cases {
		got := do(t, h, c.merchant, c.method, c.path, c.body)
		if got.status != c.status || got.body["code"] != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, got.status, got.raw, c.status, c.code)
		}
	}
	if keys, _, _ := k.List(context.Background(), "mer_1", "", 10); len(keys) != 0 {
		t.Fatalf("refused requests created %d keys", len(keys))
	}
}

// An API key cannot manage keys: a read-only token would otherwise mint a
// token with every permission.
func TestThePortalHandlerRefusesAPIKeys(t *testing.T) {
	k := newKeys(t, apikey.NewMemoryStore(), authtest.NewClock(start))
	_, token := create(t, k, spec())
	h := middleware.Chain(tgerrors.Use(tgerrors.Problem), middleware.Authenticate(k, middleware.OnRefusal(nil)))(k.Handler(apikey.HandlerConfig{}))
	r := httptest.NewRequest("POST", "/keys", strings.NewReader(`{"name":"escalated","permissions":["can_update_app_config"]}`))
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 403 {
		t.Fatalf("an API key on the management API: %d %s", w.Code, w.Body)
	}
	if keys, _, _ := k.List(context.Background(), "mer_1", "", 10); len(keys) != 1 {
		t.Fatalf("%d keys after the refused request, want 1", len(keys))
	}
}
