package jwt

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/principal"
)

// A cached token hands every request the same *principal.Principal; what
// one handler does with what it reads must not reach the next request.
func TestAHandlerCannotChangeWhatTheNextRequestWithTheSameTokenSees(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}})
	token := iss.Mint(claims(map[string]any{
		"scope": "can_read_order",
		"org":   "acme",
		"ext":   map[string]any{"roles": []any{"viewer"}},
	}))

	var mu sync.Mutex
	var seen []string
	h := middleware.Authenticate(v)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := principal.From(r.Context())
		ext, _ := p.Claim("ext")
		mu.Lock()
		seen = append(seen, p.Subject()+"|"+p.StringClaim("org")+"|"+ext.(map[string]any)["roles"].([]any)[0].(string)+"|"+p.Scopes()[0])
		mu.Unlock()
		// Everything a handler can reach, changed.
		c := p.Claims()
		c["org"], c["sub"] = "evil", "root"
		ext.(map[string]any)["roles"].([]any)[0] = "admin"
		p.Scopes()[0] = "admin"
		p.Audience()[0] = "other"
	}))

	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := httptest.NewRequest("GET", "/orders/1", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Errorf("status %d", rec.Code)
			}
		}()
	}
	wg.Wait()
	for _, s := range seen {
		if s != "user-1|acme|viewer|can_read_order" {
			t.Fatalf("a request saw %q after another's handler changed its principal", s)
		}
	}
	if len(seen) != 16 {
		t.Fatalf("handler reached %d times, want 16", len(seen))
	}
}
