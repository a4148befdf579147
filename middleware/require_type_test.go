package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
)

func withPrincipal(p *principal.Principal) *http.Request {
	req := httptest.NewRequest("GET", "/orders", nil)
	if p != nil {
		req = req.WithContext(principal.NewContext(req.Context(), p))
	}
	return req
}

func TestRequireType(t *testing.T) {
	customer := principal.New(principal.Fields{Subject: "c1", Type: "customer"})
	tests := []struct {
		name       string
		types      []string
		p          *principal.Principal
		wantStatus int
		wantCode   string
	}{
		{"merchant on a merchant route", []string{"merchant"}, merchant, 200, ""},
		{"customer on a merchant route is wrong_token_type", []string{"merchant"}, customer, 403, "wrong_token_type"},
		{"either type accepted", []string{"merchant", "customer"}, customer, 200, ""},
		{"type names are exact", []string{"Merchant"}, merchant, 403, "wrong_token_type"},
		{"no principal fails closed", []string{"merchant"}, nil, 401, "missing_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := run(t, middleware.RequireType(tt.types...), withPrincipal(tt.p))
			if o.rec.Code != tt.wantStatus || o.reached != (tt.wantStatus == 200) {
				t.Fatalf("status %d reached %v, want %d", o.rec.Code, o.reached, tt.wantStatus)
			}
			if tt.wantCode != "" && oauthBody(t, o.rec) != tt.wantCode {
				t.Errorf("error %q, want %q", oauthBody(t, o.rec), tt.wantCode)
			}
		})
	}
}

// bigOrg's token carries its organization as a JSON number too large for a
// float64 to hold exactly, as a JSON decoder hands it over.
var bigOrg = principal.New(principal.Fields{Subject: "m2", Type: "merchant", Claims: map[string]any{
	"big_org": 1234567890123456789.0, "frac": 1.5, "max_org": 9007199254740992.0}})

func TestRequireTenant(t *testing.T) {
	tests := []struct {
		name       string
		claim      string
		header     []string
		p          *principal.Principal
		wantStatus int
		wantCode   string
	}{
		{"header equals the claim", "org_id", []string{"org-7"}, merchant, 200, ""},
		{"numeric claim compared in decimal", "app_num", []string{"12"}, merchant, 200, ""},
		{"header differs: forbidden", "org_id", []string{"org-8"}, merchant, 403, "forbidden"},
		{"header missing: validation", "org_id", nil, merchant, 400, "validation"},
		{"header empty: validation", "org_id", []string{""}, merchant, 400, "validation"},
		{"header sent twice: validation", "org_id", []string{"org-7", "org-7"}, merchant, 400, "validation"},
		{"token without the claim: forbidden", "tenant", []string{"org-7"}, merchant, 403, "forbidden"},
		{"numeric claim beyond 2^53 refuses even its own header", "big_org", []string{"1234567890123456789"}, bigOrg, 403, "forbidden"},
		{"numeric claim beyond 2^53 refuses the rounded neighbour", "big_org", []string{"1234567890123456800"}, bigOrg, 403, "forbidden"},
		{"fractional numeric claim: forbidden", "frac", []string{"1.5"}, bigOrg, 403, "forbidden"},
		{"largest exact integer is compared", "max_org", []string{"9007199254740992"}, bigOrg, 200, ""},
		{"no principal fails closed", "org_id", []string{"org-7"}, nil, 401, "missing_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := withPrincipal(tt.p)
			for _, v := range tt.header {
				req.Header.Add("X-Organization-Id", v)
			}
			o := run(t, middleware.RequireTenant("x-organization-id", tt.claim), req)
			if o.rec.Code != tt.wantStatus || o.reached != (tt.wantStatus == 200) {
				t.Fatalf("status %d reached %v, want %d; body %s", o.rec.Code, o.reached, tt.wantStatus, o.rec.Body)
			}
			if tt.wantCode != "" && oauthBody(t, o.rec) != tt.wantCode {
				t.Errorf("error %q, want %q", oauthBody(t, o.rec), tt.wantCode)
			}
		})
	}
}

func TestChainRunsInOrder(t *testing.T) {
	var order []string
	mark := func(name string) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				order = append(order, name)
				next.ServeHTTP(w, r)
			})
		}
	}
	middleware.Chain(mark("a"), mark("b"), mark("c"))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		order = append(order, "handler")
	})).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if got := len(order); got != 4 || order[0] != "a" || order[1] != "b" || order[2] != "c" || order[3] != "handler" {
		t.Errorf("order %v", order)
	}
}

// Under a user's FormatFunc that writes only a body, every layer's
// challenge still leaves with its realm (RFC 6750 §3: at least one
// auth-param) and, for invalid_request, its error code.
func TestEveryLayerChallengesWithARealmUnderAUserFormat(t *testing.T) {
	bodyOnly := tgerrors.FormatFunc(func(w http.ResponseWriter, r *http.Request, e *tgerrors.Error) {
		w.WriteHeader(e.HTTPStatus())
		w.Write([]byte(`{"denied":true}`))
	})
	twoHeaders := httptest.NewRequest("GET", "/orders", nil)
	twoHeaders.Header.Add("Authorization", "Bearer a")
	twoHeaders.Header.Add("Authorization", "Bearer b")
	tests := []struct {
		name       string
		format     tgerrors.Format
		mw         func(http.Handler) http.Handler
		req        *http.Request
		wantStatus int
		want       string
	}{
		{"Authenticate, no token", bodyOnly, middleware.Authenticate(newFake(), middleware.OnRefusal(nil)), withPrincipal(nil), 401, `Bearer realm="api"`},
		{"Authenticate, two credentials", bodyOnly, middleware.Authenticate(newFake(), middleware.OnRefusal(nil)), twoHeaders, 400, twoCredentials},
		{"RequireType, no principal", bodyOnly, middleware.RequireType("merchant"), withPrincipal(nil), 401, `Bearer realm="api"`},
		{"RequireTenant, no principal", bodyOnly, middleware.RequireTenant("X-Organization-Id", "org_id"), withPrincipal(nil), 401, `Bearer realm="api"`},
		{"RequireType, a named realm", tgerrors.WithRealm(bodyOnly, "orders"), middleware.RequireType("merchant"), withPrincipal(nil), 401, `Bearer realm="orders"`},
		{"RequireType, a built-in format", tgerrors.Envelope, middleware.RequireType("merchant"), withPrincipal(nil), 401, `Bearer realm="api"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reached := false
			rec := httptest.NewRecorder()
			tgerrors.Use(tt.format)(tt.mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))).ServeHTTP(rec, tt.req)
			if rec.Code != tt.wantStatus || reached {
				t.Fatalf("status %d reached %v, want %d", rec.Code, reached, tt.wantStatus)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.want {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.want)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
		})
	}
}
