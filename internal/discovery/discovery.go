// Package discovery reads an authorization server's metadata: OpenID
// Connect Discovery 1.0 (issuer + "/.well-known/openid-configuration") and,
// where that is not found, RFC 8414 (the well-known path inserted between
// the host and the issuer's path).
//
// The document is trusted only for the issuer it names, and only if that is
// exactly the issuer asked for (RFC 8414 §3.3, OpenID Connect Discovery
// §4.3): "https://idp.example.com" and "https://idp.example.com/" are two
// issuers. Otherwise whoever answers the well-known URL could name another
// issuer's endpoints. The body is bounded, decoded strictly (no member name
// repeated, valid UTF-8 only) and fetched with the caller's client, so that
// its timeout and redirect policy apply to the metadata as to what the
// metadata points at.
package discovery

import (
	"context"
	stderrors "errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/tollgate/tollgate/internal/jose"
)

// DefaultMaxBytes is the body cap Fetch applies when given none.
const DefaultMaxBytes = 1 << 20

// The paths of the two well-known documents.
const (
	OpenIDPath = "/.well-known/openid-configuration"
	OAuthPath  = "/.well-known/oauth-authorization-server"
)

// The reasons Fetch fails, for errors.Is.
var (
	// ErrIssuer is an issuer that cannot be discovered: not an absolute
	// https URL (plain http only on a loopback host), or with a query or
	// fragment (RFC 8414 §2).
	ErrIssuer = stderrors.New("issuer identifier not usable for discovery")
	// ErrNotFound is an issuer with neither document (both answered 404).
	ErrNotFound = stderrors.New("no discovery document")
	// ErrStatus is a status other than 200 (or a first 404).
	ErrStatus = stderrors.New("unexpected status")
	// ErrTooLarge is a body over the cap.
	ErrTooLarge = stderrors.New("discovery document too large")
	// ErrDocument is a body that is not a strict JSON object of metadata.
	ErrDocument = stderrors.New("discovery document malformed")
	// ErrIssuerMismatch is a document whose "issuer" is not the one asked
	// for, byte for byte.
	ErrIssuerMismatch = stderrors.New("discovery document names another issuer")
)

// Metadata is the part of an authorization server's metadata tollgate
// uses. Absent members are empty.
type Metadata struct {
	// Issuer is the "issuer" member, equal to the issuer asked for.
	Issuer string
	// JWKSURI is "jwks_uri". It is not checked here: the caller holds it
	// to its own rules for key-set URLs.
	JWKSURI string
	// IntrospectionEndpoint is "introspection_endpoint" (RFC 8414 §2, RFC 7662).
	IntrospectionEndpoint string
	// TokenEndpoint is "token_endpoint".
	TokenEndpoint string
	// RevocationEndpoint is "revocation_endpoint" (RFC 7009).
	RevocationEndpoint string
	// IntrospectionEndpointAuthMethods is
	// "introspection_endpoint_auth_methods_supported".
	IntrospectionEndpointAuthMethods []string
	// TokenEndpointAuthMethods is "token_endpoint_auth_methods_supported".
	TokenEndpointAuthMethods []string

	// URL is where the document was read from.
	URL string
}

// Fetch reads the metadata of issuer: its OpenID Connect Discovery document
// and, if that answers 404, its RFC 8414 document. It uses client (nil: a
// client with no settings of its own, never http.DefaultClient) and ctx for
// every request, reads at most maxBytes of a body (zero or less:
// DefaultMaxBytes), and returns an error wrapping one of the Err values
// above, or the client's, unless the document is a strict JSON object whose
// "issuer" equals issuer exactly.
func Fetch(ctx context.Context, client *http.Client, issuer string, maxBytes int64) (*Metadata, error) {
	if client == nil {
		client = &http.Client{}
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	openid, oauth, err := URLs(issuer)
	if err != nil {
		return nil, err
	}
	md, status, err := get(ctx, client, openid, maxBytes)
	if status == http.StatusNotFound {
		md, status, err = get(ctx, client, oauth, maxBytes)
		if status == http.StatusNotFound {
			return nil, fmt.Errorf("%w for %s (GET %s and %s: 404)", ErrNotFound, issuer, openid, oauth)
		}
	}
	if err != nil {
		return nil, err
	}
	if md.Issuer != issuer {
		return nil, fmt.Errorf("%w: GET %s: %q, want %q", ErrIssuerMismatch, md.URL, md.Issuer, issuer)
	}
	return md, nil
}

// URLs returns the two well-known URLs of issuer: OpenID Connect Discovery
// §4 (the issuer with any terminating "/" removed, then OpenIDPath) and
// RFC 8414 §3.1 (OAuthPath inserted between the host and the path, with
// any terminating "/" of the path removed).
func URLs(issuer string) (openid, oauth string, err error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return "", "", fmt.Errorf("%w: %q: %v", ErrIssuer, issuer, err)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(issuer, "#") {
		return "", "", fmt.Errorf("%w: %q must be scheme://host[/path], without user info, query or fragment", ErrIssuer, issuer)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !loopback(u.Hostname()) {
			return "", "", fmt.Errorf("%w: %q must be https (plain http only on a loopback host)", ErrIssuer, issuer)
		}
	default:
		return "", "", fmt.Errorf("%w: %q must be https", ErrIssuer, issuer)
	}
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	origin := u.Scheme + "://" + u.Host
	return origin + path + OpenIDPath, origin + OAuthPath + path, nil
}

func loopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// get fetches and decodes one document. A non-200 status is returned with
// an error; a 404 is the caller's to judge.
func get(ctx context.Context, client *http.Client, target string, maxBytes int64) (*Metadata, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, resp.StatusCode, fmt.Errorf("%w: GET %s: %s", ErrStatus, target, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("GET %s: %w", target, err)
	}
	if int64(len(body)) > maxBytes {
		return nil, resp.StatusCode, fmt.Errorf("%w: GET %s: over %d bytes", ErrTooLarge, target, maxBytes)
	}
	md, err := decode(body)
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("GET %s: %w", target, err)
	}
	md.URL = target
	return md, resp.StatusCode, nil
}

// decode reads the document strictly: jose.DecodeObject refuses repeated
// member names and invalid UTF-8, and members are then read by their exact
// names (encoding/json would also match "ISSUER" to a field "issuer", and
// keep whichever came last), each of the JSON type it must have.
func decode(body []byte) (*Metadata, error) {
	m, err := jose.DecodeObject(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDocument, err)
	}
	md := &Metadata{}
	for name, dst := range map[string]*string{
		"issuer":                 &md.Issuer,
		"jwks_uri":               &md.JWKSURI,
		"introspection_endpoint": &md.IntrospectionEndpoint,
		"token_endpoint":         &md.TokenEndpoint,
		"revocation_endpoint":    &md.RevocationEndpoint,
	} {
		if v, ok := m[name]; ok {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("%w: %q is not a string", ErrDocument, name)
			}
			*dst = s
		}
	}
	for name, dst := range map[string]*[]string{
		"introspection_endpoint_auth_methods_supported": &md.IntrospectionEndpointAuthMethods,
		"token_endpoint_auth_methods_supported":         &md.TokenEndpointAuthMethods,
	} {
		if v, ok := m[name]; ok {
			list, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("%w: %q is not an array", ErrDocument, name)
			}
			out := make([]string, len(list))
			for i, e := range list {
				if out[i], ok = e.(string); !ok {
					return nil, fmt.Errorf("%w: %q holds a value that is not a string", ErrDocument, name)
				}
			}
			*dst = out
		}
	}
	if md.Issuer == "" {
		return nil, fmt.Errorf("%w: no \"issuer\"", ErrDocument)
	}
	return md, nil
}
