package main

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

// merchantToken is what the provider's authorization server knows about one
// opaque merchant API token.
type merchantToken struct {
	Merchant    string
	OrgID       string
	AppID       string
	Permissions []string
	// Active is false once the merchant deactivated the token.
	Active bool
	// ExpiresAt is when the token stops working; the zero Time means never.
	ExpiresAt time.Time
}

// demoMerchantTokens are the merchant API tokens the stand-in knows.
func demoMerchantTokens(now time.Time) map[string]merchantToken {
	both := []string{"can_read_order", "can_write_order"}
	return map[string]merchantToken{
		"mt_live_readwrite": {Merchant: "mer_1", OrgID: "org_1", AppID: "app_1", Permissions: both, Active: true},
		"mt_live_readonly":  {Merchant: "mer_1", OrgID: "org_1", AppID: "app_1", Permissions: []string{"can_read_order"}, Active: true, ExpiresAt: now.Add(time.Hour)},
		"mt_live_inactive":  {Merchant: "mer_1", OrgID: "org_1", AppID: "app_1", Permissions: both, Active: false},
		"mt_live_expired":   {Merchant: "mer_1", OrgID: "org_1", AppID: "app_1", Permissions: both, Active: true, ExpiresAt: now.Add(-time.Minute)},
		"mt_live_other_org": {Merchant: "mer_2", OrgID: "org_2", AppID: "app_2", Permissions: both, Active: true},
	}
}

// authServer stands in for the provider's RFC 7662 introspection endpoint.
// Like a real one, it answers only resource servers that authenticate with
// HTTP Basic, and reports a deactivated or expired token as inactive.
type authServer struct {
	clientID, clientSecret string
	now                    func() time.Time
	tokens                 map[string]merchantToken
	calls                  atomic.Int64 // introspection requests answered
}

func (s *authServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	id, secret, ok := r.BasicAuth()
	if ok {
		// RFC 6749 §2.3.1: both are form-encoded before Basic encoding.
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	}
	if !ok || subtle.ConstantTimeCompare([]byte(id), []byte(s.clientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(s.clientSecret)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="introspection"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	t, known := s.tokens[r.PostForm.Get("token")]

	w.Header().Set("Content-Type", "application/json")
	expired := !t.ExpiresAt.IsZero() && !s.now().Before(t.ExpiresAt)
	if !known || !t.Active || expired {
		_ = json.NewEncoder(w).Encode(map[string]any{"active": false})
		return
	}
	answer := map[string]any{
		"active":      true,
		"token_type":  "Bearer",
		"sub":         t.Merchant,
		"client_id":   t.AppID,
		"org_id":      t.OrgID,
		"app_id":      t.AppID,
		"permissions": t.Permissions,
	}
	if !t.ExpiresAt.IsZero() {
		answer["exp"] = t.ExpiresAt.Unix()
	}
	_ = json.NewEncoder(w).Encode(answer)
}
