package introspect

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDiscoverFindsTheIntrospectionEndpointFromTheIssuerAlone(t *testing.T) {
	var issuer string
	var meta map[string]any
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(meta)
	})
	mux.HandleFunc("/introspect", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		active := r.PostForm.Get("token") == "good"
		_ = json.NewEncoder(w).Encode(map[string]any{"active": active, "sub": "u1", "client_id": "app", "exp": 4102444800})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	issuer = srv.URL

	cases := []struct {
		name    string
		meta    map[string]any
		wantErr string
	}{
		{"the endpoint the metadata names", map[string]any{"issuer": issuer, "introspection_endpoint": issuer + "/introspect"}, ""},
		{"metadata of another issuer", map[string]any{"issuer": issuer + "/", "introspection_endpoint": issuer + "/introspect"}, "issuer"},
		{"no introspection endpoint", map[string]any{"issuer": issuer}, "no introspection_endpoint"},
		{"an endpoint in clear text on a remote host", map[string]any{"issuer": issuer, "introspection_endpoint": "http://idp.example.com/introspect"}, "not https"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			meta = c.meta
			cl, err := Discover(context.Background(), issuer, Config{Auth: ClientSecretBasic("rs", "secret")})
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want one saying %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p, err := cl.Verify(context.Background(), "good")
			if err != nil || p.Subject() != "u1" {
				t.Fatalf("Verify: %v, %v", p, err)
			}
			if _, err := cl.Verify(context.Background(), "bad"); err == nil {
				t.Fatal("an inactive token verified")
			}
		})
	}
	if _, err := Discover(context.Background(), issuer, Config{Endpoint: issuer + "/introspect", Auth: NoClientAuth()}); err == nil {
		t.Fatal("Discover with an Endpoint set")
	}
}
