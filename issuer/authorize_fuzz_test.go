package issuer_test

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzAuthorizeQuery sends any query to the authorization endpoint: it
// never panics, never answers 5xx but for the store (none here), and a
// redirect only ever goes to a URI the client registered (or its loopback
// port), carrying no header-breaking byte and no fragment.
func FuzzAuthorizeQuery(f *testing.F) {
	for _, seed := range []string{
		shopQuery(),
		mobileQuery(),
		shopQuery("scope", "orders:read orders:read", "code_challenge", testChallenge, "code_challenge_method", "S256"),
		"response_type=code&client_id=shop&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%2F..%2Fevil",
		"response_type=code&client_id=shop&redirect_uri=https://evil@app.example/cb&state=%0d%0aSet-Cookie:x",
		"client_id=mobile&code_challenge=plain&code_challenge_method=plain",
		"client_id=shop&client_id=other",
		"%zz",
		"response_type=code&client_id=loop&redirect_uri=http://127.0.0.1:1/cb",
	} {
		f.Add(http.MethodGet, seed)
		f.Add(http.MethodPost, seed)
	}
	flow := newCodeFlow(f)
	registered := []string{shopCallback, shopTenant, mobileCallback, otherCallback}
	f.Fuzz(func(t *testing.T, method, rawQuery string) {
		if method != http.MethodGet {
			method = http.MethodPost
		}
		rec := flow.visit(method, rawQuery)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q", rec.Code, rawQuery)
		}
		loc := rec.Header().Get("Location")
		if loc == "" {
			return
		}
		if strings.ContainsAny(loc, "\r\n#") {
			t.Fatalf("Location %q", loc)
		}
		for _, uri := range registered {
			if strings.HasPrefix(loc, uri+"?") || strings.HasPrefix(loc, uri+"&") {
				return
			}
		}
		t.Fatalf("redirected to %q, which is not registered (query %q)", loc, rawQuery)
	})
}
