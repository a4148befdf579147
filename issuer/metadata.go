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
	// AuthorizationEndpoint, if set, is NewAuthorizeHandler's URL: the
	// document then lists response_types_supported ["code"],
	// code_challenge_methods_supported ["S256"] and
	// authorization_response_iss_parameter_supported (RFC 9207).
	AuthorizationEndpoint string
	// PublicClients says public clients are registered: "none" joins the
	// token and revocation endpoints' auth methods.
	PublicClients bool
	// GrantTypes are the token endpoint's grants (TokenConfig.Grants);
	// empty means client_credentials.
	GrantTypes []string
	// Scopes, if set, are published as scopes_supported.
	Scopes []string
}

// NewMetadataHandler serves the authorization server's metadata, for
// GET /.well-known/oauth-authorization-server: issuer,
// authorization_endpoint, token_endpoint, jwks_uri, revocation_endpoint,
// grant_types_supported, token_endpoint_auth_methods_supported
// (client_secret_basic and client_secret_post, and none with
// PublicClients; for the revocation endpoint too),
// response_types_supported (["code"] with an authorization endpoint, else
// none), code_challenge_methods_supported (["S256"]),
// authorization_response_iss_parameter_supported and scopes_supported.
// It is cacheable for an hour (Cache-Control: public, max-age=3600).
func NewMetadataHandler(cfg MetadataConfig) (http.Handler, error) {
	if cfg.Issuer == "" || cfg.TokenEndpoint == "" || cfg.JWKSURI == "" {
		return nil, stderrors.New("issuer: MetadataConfig needs Issuer, TokenEndpoint and JWKSURI")
	}
	grants := cfg.GrantTypes
	if len(grants) == 0 {
		grants = []string{GrantClientCredentials}
	}
	if (cfg.AuthorizationEndpoint != "") != slices.Contains(grants, GrantAuthorizationCode) {
		return nil, stderrors.New("issuer: MetadataConfig: an AuthorizationEndpoint goes with the authorization_code grant in GrantTypes")
	}
	methods := []string{"client_secret_basic", "client_secret_post"}
	if cfg.PublicClients {
		methods = append(methods, "none")
	}
	doc := struct {
		Issuer                string   `json:"issuer"`
		AuthorizationEndpoint string   `json:"authorization_endpoint,omitempty"`
		TokenEndpoint         string   `json:"token_endpoint"`
		JWKSURI               string   `json:"jwks_uri"`
		RevocationEndpoint    string   `json:"revocation_endpoint,omitempty"`
		GrantTypes            []string `json:"grant_types_supported"`
		ResponseTypes         []string `json:"response_types_supported"`
		ResponseModes         []string `json:"response_modes_supported,omitempty"`
		AuthMethods           []string `json:"token_endpoint_auth_methods_supported"`
		RevocationAuthMethods []string `json:"revocation_endpoint_auth_methods_supported,omitempty"`
		CodeChallengeMethods  []string `json:"code_challenge_methods_supported,omitempty"`
		IssParameter          bool     `json:"authorization_response_iss_parameter_supported,omitempty"`
		Scopes                []string `json:"scopes_supported,omitempty"`
	}{
		Issuer: cfg.Issuer, AuthorizationEndpoint: cfg.AuthorizationEndpoint, TokenEndpoint: cfg.TokenEndpoint,
		JWKSURI: cfg.JWKSURI, RevocationEndpoint: cfg.RevocationEndpoint, GrantTypes: slices.Clone(grants),
		ResponseTypes: []string{}, AuthMethods: methods, Scopes: slices.Clone(cfg.Scopes),
	}
	if cfg.AuthorizationEndpoint != "" {
		doc.ResponseTypes, doc.ResponseModes = []string{"code"}, []string{"query"}
		doc.CodeChallengeMethods = []string{PKCEMethodS256}
		doc.IssParameter = true
	}
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
