package issuer

import (
	"encoding/json"
	stderrors "errors"
	"net/http"
	"slices"
	"strconv"
)

// MetadataConfig is what NewMetadataHandler publishes (RFC 8414 §2).
type MetadataConfig struct {
	// Issuer is the issuer identifier, the Minter's Issuer; required.
	Issuer string
	// TokenEndpoint and JWKSURI are required; RevocationEndpoint is
	// published when set. Absolute URLs.
	TokenEndpoint      string
	JWKSURI            string
	RevocationEndpoint string
	// GrantTypes are the token endpoint's grants (TokenConfig.Grants);
	// empty means client_credentials.
	GrantTypes []string
	// Scopes, if set, are published as scopes_supported.
	Scopes []string
}

// NewMetadataHandler serves the authorization server's metadata, for
// GET /.well-known/oauth-authorization-server: issuer, token_endpoint,
// jwks_uri, revocation_endpoint, grant_types_supported,
// token_endpoint_auth_methods_supported (client_secret_basic and
// client_secret_post, for the revocation endpoint too),
// response_types_supported (none: there is no authorization endpoint) and
// scopes_supported. It is cacheable for an hour (Cache-Control: public,
// max-age=3600).
func NewMetadataHandler(cfg MetadataConfig) (http.Handler, error) {
	if cfg.Issuer == "" || cfg.TokenEndpoint == "" || cfg.JWKSURI == "" {
		return nil, stderrors.New("issuer: MetadataConfig needs Issuer, TokenEndpoint and JWKSURI")
	}
	grants := cfg.GrantTypes
	if len(grants) == 0 {
		grants = []string{GrantClientCredentials}
	}
	methods := []string{"client_secret_basic", "client_secret_post"}
	doc := struct {
		Issuer                string   `json:"issuer"`
		TokenEndpoint         string   `json:"token_endpoint"`
		JWKSURI               string   `json:"jwks_uri"`
		RevocationEndpoint    string   `json:"revocation_endpoint,omitempty"`
		GrantTypes            []string `json:"grant_types_supported"`
		ResponseTypes         []string `json:"response_types_supported"`
		AuthMethods           []string `json:"token_endpoint_auth_methods_supported"`
		RevocationAuthMethods []string `json:"revocation_endpoint_auth_methods_supported,omitempty"`
		Scopes                []string `json:"scopes_supported,omitempty"`
	}{cfg.Issuer, cfg.TokenEndpoint, cfg.JWKSURI, cfg.RevocationEndpoint, slices.Clone(grants), []string{}, methods, nil, slices.Clone(cfg.Scopes)}
	if cfg.RevocationEndpoint != "" {
		doc.RevocationAuthMethods = methods
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(body)
		}
	}), nil
}
