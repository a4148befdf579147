package issuer_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzTokenRequest posts any body under any content type to the token
// endpoint, with or without a Basic header: it never panics, never
// answers 5xx (the stores here are memory), always answers JSON, and
// answers 200 only with an access token of the right type.
func FuzzTokenRequest(f *testing.F) {
	for _, seed := range []struct{ contentType, body, basic string }{
		{"application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=shop&client_secret=x", ""},
		{"application/x-www-form-urlencoded", "grant_type=authorization_code&code=" + strings.Repeat("A", 43) + "&client_id=mobile&code_verifier=" + testVerifier, ""},
		{"application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=abc&scope=orders:read", "shop:"},
		{"application/json", `{"code":"x","redirect_uri":"https://app.example/cb","client_id":"mobile"}`, ""},
		{"application/json", `{"grant_type":["a","b"]}`, ""},
		{"multipart/form-data; boundary=X", "--X\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--X--\r\n", "shop:secret"},
		{"text/plain", "grant_type=client_credentials", ""},
		{"application/x-www-form-urlencoded; charset=utf-8", "grant_type=authorization_code&code=%zz", ""},
	} {
		f.Add(seed.contentType, seed.body, seed.basic)
	}
	flow := newCodeFlow(f)
	f.Fuzz(func(t *testing.T, contentType, body, basic string) {
		r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		if user, pass, ok := strings.Cut(basic, ":"); ok {
			r.SetBasicAuth(user, pass)
		}
		rec := httptest.NewRecorder()
		flow.token.ServeHTTP(rec, r)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q %q", rec.Code, contentType, body)
		}
		var answer struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
			Error       string `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
			t.Fatalf("status %d, body %q is not JSON", rec.Code, rec.Body)
		}
		if (rec.Code == http.StatusOK) != (answer.AccessToken != "" && answer.TokenType == "Bearer" && answer.Error == "") {
			t.Fatalf("status %d with body %s", rec.Code, rec.Body)
		}
	})
}
