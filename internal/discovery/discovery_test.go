package discovery

import (
	"context"
	stderrors "errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/jose"
)

// server answers each path in docs with its body (the text "{issuer}"
// replaced by the issuer identifier path gives), and 404 otherwise. It
// records the paths asked for.
type server struct {
	*httptest.Server
	docs  map[string]string
	asked []string
}

func newServer(t *testing.T, docs map[string]string) *server {
	s := &server{docs: docs}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.asked = append(s.asked, r.URL.Path)
		body, ok := s.docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if strings.HasPrefix(body, "status:") {
			var code int
			fmt.Sscanf(body, "status:%d", &code)
			w.WriteHeader(code)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(strings.ReplaceAll(body, "{base}", s.URL)))
	}))
	t.Cleanup(s.Close)
	return s
}

func TestFetch(t *testing.T) {
	full := `{"issuer":"{base}","jwks_uri":"{base}/keys","token_endpoint":"{base}/token",
		"introspection_endpoint":"{base}/introspect","revocation_endpoint":"{base}/revoke",
		"introspection_endpoint_auth_methods_supported":["client_secret_basic"],
		"token_endpoint_auth_methods_supported":["client_secret_basic","private_key_jwt"]}`
	tests := []struct {
		name      string
		docs      map[string]string
		path      string // the issuer's path, after the server's URL
		wantErr   error
		wantJWKS  string // after {base}
		wantAsked []string
	}{
		{name: "OpenID Connect Discovery document is read",
			docs: map[string]string{OpenIDPath: full}, wantJWKS: "/keys",
			wantAsked: []string{OpenIDPath}},
		{name: "a path issuer's OpenID document is under its path",
			docs: map[string]string{"/tenant/a" + OpenIDPath: `{"issuer":"{base}/tenant/a","jwks_uri":"{base}/a/keys"}`},
			path: "/tenant/a", wantJWKS: "/a/keys", wantAsked: []string{"/tenant/a" + OpenIDPath}},
		{name: "RFC 8414 document is read when OpenID's is 404, well-known before the path",
			docs: map[string]string{OAuthPath + "/tenant/a": `{"issuer":"{base}/tenant/a","jwks_uri":"{base}/a/keys"}`},
			path: "/tenant/a", wantJWKS: "/a/keys",
			wantAsked: []string{"/tenant/a" + OpenIDPath, OAuthPath + "/tenant/a"}},
		{name: "a terminating slash is removed before the well-known path, and kept in the issuer",
			docs: map[string]string{"/realms/x" + OpenIDPath: `{"issuer":"{base}/realms/x/","jwks_uri":"{base}/k"}`},
			path: "/realms/x/", wantJWKS: "/k", wantAsked: []string{"/realms/x" + OpenIDPath}},
		{name: "no fallback on a status other than 404",
			docs:    map[string]string{OpenIDPath: "status:500", OAuthPath: full},
			wantErr: ErrStatus, wantAsked: []string{OpenIDPath}},
		{name: "neither document",
			docs: map[string]string{}, wantErr: ErrNotFound, wantAsked: []string{OpenIDPath, OAuthPath}},
		{name: "issuer mismatch: another host",
			docs:    map[string]string{OpenIDPath: `{"issuer":"https://evil.example","jwks_uri":"{base}/keys"}`},
			wantErr: ErrIssuerMismatch},
		{name: "issuer mismatch: a trailing slash the configuration lacks",
			docs:    map[string]string{OpenIDPath: `{"issuer":"{base}/","jwks_uri":"{base}/keys"}`},
			wantErr: ErrIssuerMismatch},
		{name: "issuer mismatch: a trailing slash the document lacks",
			docs: map[string]string{"/x" + OpenIDPath: `{"issuer":"{base}/x","jwks_uri":"{base}/keys"}`},
			path: "/x/", wantErr: ErrIssuerMismatch},
		{name: "issuer mismatch in the RFC 8414 document",
			docs: map[string]string{OAuthPath + "/a": `{"issuer":"{base}/b","jwks_uri":"{base}/keys"}`},
			path: "/a", wantErr: ErrIssuerMismatch},
		{name: "issuer of another case is another issuer",
			docs: map[string]string{"/A" + OpenIDPath: `{"issuer":"{base}/a"}`},
			path: "/A", wantErr: ErrIssuerMismatch},
		{name: "a repeated member is refused, not read as the last one",
			docs:    map[string]string{OpenIDPath: `{"issuer":"https://evil.example","issuer":"{base}","jwks_uri":"{base}/keys"}`},
			wantErr: jose.ErrDuplicate},
		{name: "a member of another case is not the member",
			docs:     map[string]string{OpenIDPath: `{"issuer":"{base}","ISSUER":"https://evil.example","JWKS_URI":"https://evil.example/k"}`},
			wantJWKS: "-"},
		{name: "issuer that is no string",
			docs: map[string]string{OpenIDPath: `{"issuer":["{base}"]}`}, wantErr: ErrDocument},
		{name: "auth methods that are no array of strings",
			docs: map[string]string{OpenIDPath: `{"issuer":"{base}","token_endpoint_auth_methods_supported":[1]}`}, wantErr: ErrDocument},
		{name: "no issuer",
			docs: map[string]string{OpenIDPath: `{"jwks_uri":"{base}/keys"}`}, wantErr: ErrDocument},
		{name: "not an object",
			docs: map[string]string{OpenIDPath: `["{base}"]`}, wantErr: ErrDocument},
		{name: "body over the cap",
			docs: map[string]string{OpenIDPath: `{"issuer":"{base}","pad":"` + strings.Repeat("x", 2000) + `"}`}, wantErr: ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.docs)
			issuer := s.URL + tt.path
			md, err := Fetch(context.Background(), s.Client(), issuer, 1024)
			if tt.wantAsked != nil && fmt.Sprint(s.asked) != fmt.Sprint(tt.wantAsked) {
				t.Errorf("asked %v, want %v", s.asked, tt.wantAsked)
			}
			if tt.wantErr != nil {
				if !stderrors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if md != nil {
					t.Error("metadata returned with an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if md.Issuer != issuer {
				t.Errorf("Issuer = %q, want %q", md.Issuer, issuer)
			}
			want := s.URL + tt.wantJWKS
			if tt.wantJWKS == "-" {
				want = ""
			}
			if md.JWKSURI != want {
				t.Errorf("JWKSURI = %q, want %q", md.JWKSURI, want)
			}
		})
	}
}

func TestFetchReadsEveryMember(t *testing.T) {
	s := newServer(t, map[string]string{OpenIDPath: `{"issuer":"{base}","jwks_uri":"{base}/keys","token_endpoint":"{base}/token",
		"introspection_endpoint":"{base}/introspect","revocation_endpoint":"{base}/revoke",
		"introspection_endpoint_auth_methods_supported":["client_secret_basic"],
		"token_endpoint_auth_methods_supported":["client_secret_basic","private_key_jwt"]}`})
	md, err := Fetch(context.Background(), s.Client(), s.URL, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := Metadata{Issuer: s.URL, JWKSURI: s.URL + "/keys", TokenEndpoint: s.URL + "/token",
		IntrospectionEndpoint: s.URL + "/introspect", RevocationEndpoint: s.URL + "/revoke",
		IntrospectionEndpointAuthMethods: []string{"client_secret_basic"},
		TokenEndpointAuthMethods:         []string{"client_secret_basic", "private_key_jwt"},
		URL:                              s.URL + OpenIDPath}
	if fmt.Sprintf("%+v", *md) != fmt.Sprintf("%+v", want) {
		t.Errorf("got  %+v\nwant %+v", *md, want)
	}
}

func TestFetchUsesTheCallersRedirectPolicy(t *testing.T) {
	target := newServer(t, map[string]string{OpenIDPath: `{"issuer":"https://never.example"}`})
	s := httptest.NewServer(http.RedirectHandler(target.URL+OpenIDPath, http.StatusFound))
	defer s.Close()
	refused := stderrors.New("redirect refused")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return refused }}
	if _, err := Fetch(context.Background(), client, s.URL, 0); !stderrors.Is(err, refused) {
		t.Fatalf("err = %v, want the client's redirect refusal", err)
	}
	if len(target.asked) != 0 {
		t.Error("the redirect was followed")
	}
}

func TestFetchHonoursTheContext(t *testing.T) {
	s := newServer(t, map[string]string{OpenIDPath: `{"issuer":"{base}"}`})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Fetch(ctx, s.Client(), s.URL, 0); !stderrors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestURLs(t *testing.T) {
	tests := []struct {
		issuer, openid, oauth string
		wantErr               bool
	}{
		{"https://idp.example", "https://idp.example" + OpenIDPath, "https://idp.example" + OAuthPath, false},
		{"https://idp.example/", "https://idp.example" + OpenIDPath, "https://idp.example" + OAuthPath, false},
		{"https://idp.example/issuer1", "https://idp.example/issuer1" + OpenIDPath, "https://idp.example" + OAuthPath + "/issuer1", false},
		{"https://idp.example/t/v2.0/", "https://idp.example/t/v2.0" + OpenIDPath, "https://idp.example" + OAuthPath + "/t/v2.0", false},
		{"https://idp.example:8443/a", "https://idp.example:8443/a" + OpenIDPath, "https://idp.example:8443" + OAuthPath + "/a", false},
		{"http://127.0.0.1:9/a", "http://127.0.0.1:9/a" + OpenIDPath, "http://127.0.0.1:9" + OAuthPath + "/a", false},
		{issuer: "http://idp.example", wantErr: true},
		{issuer: "https://idp.example/?x=1", wantErr: true},
		{issuer: "https://idp.example/?", wantErr: true},
		{issuer: "https://idp.example/#f", wantErr: true},
		{issuer: "https://user@idp.example/", wantErr: true},
		{issuer: "idp.example", wantErr: true},
		{issuer: "ftp://idp.example", wantErr: true},
		{issuer: "", wantErr: true},
	}
	for _, tt := range tests {
		openid, oauth, err := URLs(tt.issuer)
		if tt.wantErr {
			if !stderrors.Is(err, ErrIssuer) {
				t.Errorf("URLs(%q) err = %v, want ErrIssuer", tt.issuer, err)
			}
			continue
		}
		if err != nil || openid != tt.openid || oauth != tt.oauth {
			t.Errorf("URLs(%q) = %q, %q, %v; want %q, %q", tt.issuer, openid, oauth, err, tt.openid, tt.oauth)
		}
	}
}
