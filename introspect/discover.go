package introspect

import (
	"context"
	stderrors "errors"
	"fmt"
	"net/http"

	"github.com/tollgate/tollgate/internal/discovery"
)

// Discover returns a Client for the introspection endpoint that issuer's
// metadata names (OpenID Connect Discovery, else RFC 8414), so that an
// authorization server is configured by its issuer URL alone. The metadata's
// "issuer" must equal issuer exactly, and its introspection_endpoint is then
// held to New's rules (https unless loopback or AllowHTTP). cfg.Endpoint
// must be empty; every other field means what it means for New.
//
// The metadata is read once, now, under cfg.Timeout (DefaultTimeout if
// zero) and ctx, with cfg.HTTPClient (nil: a client that follows no
// redirects), its body capped at 1 MiB. An endpoint rarely moves; should it,
// build a new Client. A server that publishes no introspection_endpoint is
// an error.
func Discover(ctx context.Context, issuer string, cfg Config) (*Client, error) {
	if cfg.Endpoint != "" {
		return nil, stderrors.New("introspect: Discover finds the Endpoint; leave Config.Endpoint empty")
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	ctx, cancel := context.WithTimeout(ctx, orDefault(cfg.Timeout, DefaultTimeout))
	defer cancel()
	md, err := discovery.Fetch(ctx, client, issuer, 0)
	if err != nil {
		return nil, fmt.Errorf("introspect: discovering %s: %w", issuer, err)
	}
	if md.IntrospectionEndpoint == "" {
		return nil, fmt.Errorf("introspect: the metadata of %s names no introspection_endpoint", issuer)
	}
	cfg.Endpoint = md.IntrospectionEndpoint
	return New(cfg)
}

// String describes the client by its endpoint and its authentication
// method, never a secret: printing a *Client with %v or %+v shows this.
func (c *Client) String() string {
	return "introspect.Client(" + c.logEndpoint + ", " + ClientAuth{method: c.auth.method, clientID: c.auth.clientID}.String() + ")"
}

// GoString is String, so that %#v shows no secret either.
func (c *Client) GoString() string { return c.String() }
