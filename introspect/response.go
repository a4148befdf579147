package introspect

import (
	"context"
	stderrors "errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"time"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/internal/jose"
	"github.com/tollgate/tollgate/principal"
)

// introspect asks the endpoint about token and judges the answer.
func (c *Client) introspect(ctx context.Context, token string) (*principal.Principal, *tgerrors.Error) {
	claims, err := c.fetch(ctx, token)
	if err != nil {
		return nil, refusal(tgerrors.Unavailable, err)
	}
	if active, _ := claims["active"].(bool); !active {
		return nil, refusal(tgerrors.InvalidToken, errInactive)
	}
	p, err := c.principalOf(claims)
	if err != nil {
		return nil, refusal(tgerrors.Unavailable, err)
	}
	if why := c.kinds.NotAccessToken(claims); why != "" {
		return nil, refusal(tgerrors.InvalidToken, fmt.Errorf("%w: %s", errNotAccessToken, why))
	}
	if kind, err := c.check(p, claims); err != nil {
		return nil, refusal(kind, err)
	}
	return p, nil
}

// fetch posts the request and decodes the body into a JSON object.
func (c *Client) fetch(ctx context.Context, token string) (map[string]any, error) {
	req, err := c.buildRequest(ctx, token)
	if err != nil {
		return nil, fmt.Errorf("introspect: building the request: %w", err)
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		// The URL, and so the error text, holds no token: it is in the body.
		return nil, fmt.Errorf("introspect: calling the endpoint: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("introspect: reading the response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("introspect: the endpoint answered %d", resp.StatusCode)
	}
	if int64(len(body)) > c.maxResponse {
		return nil, fmt.Errorf("introspect: the response exceeds %d bytes", c.maxResponse)
	}
	return decodeAnswer(body)
}

// decodeAnswer decodes the body of a 200 answer: one JSON object, read
// strictly (jose.DecodeObject). An answer that is not valid UTF-8, holds a
// lone surrogate escape, or repeats a member name in any object at any depth
// ({"active":false,"active":true}, or "a" and "\u0061") could be read
// differently by two parsers; RFC 8259 §4 and §8.1 leave such a text's
// meaning open, so it is refused as garbage rather than read one way.
func decodeAnswer(body []byte) (map[string]any, error) {
	claims, err := jose.DecodeObject(body)
	switch {
	case err == nil:
		return claims, nil
	case stderrors.Is(err, jose.ErrNotObject):
		return nil, stderrors.New("introspect: the response is not a JSON object")
	case stderrors.Is(err, jose.ErrSyntax):
		return nil, fmt.Errorf("introspect: the response is not JSON: %w", err)
	}
	return nil, fmt.Errorf("introspect: the response is ambiguous JSON: %w", err)
}

// principalOf builds the principal of an active answer, or reports a member
// of the wrong type.
func (c *Client) principalOf(claims map[string]any) (*principal.Principal, error) {
	p := principal.Fields{Type: c.tokenType, Claims: claims}
	var err error
	strs := []struct {
		name string
		dst  *string
	}{
		{"sub", &p.Subject}, {"client_id", &p.ClientID}, {"iss", &p.Issuer}, {"jti", &p.TokenID},
		{"username", nil}, {"token_type", nil},
	}
	for _, s := range strs {
		v, ok := claims[s.name]
		if !ok {
			continue
		}
		str, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("introspect: %q is not a string", s.name)
		}
		if s.dst != nil {
			*s.dst = str
		}
	}
	if p.ExpiresAt, err = numericDate(claims, "exp"); err != nil {
		return nil, err
	}
	if p.IssuedAt, err = numericDate(claims, "iat"); err != nil {
		return nil, err
	}
	if p.NotBefore, err = numericDate(claims, "nbf"); err != nil {
		return nil, err
	}
	if p.Audience, err = audience(claims); err != nil {
		return nil, err
	}
	p.Scopes = principal.ParseScopes(claims, c.scopeClaims...)
	if p.Roles, err = principal.ParseRoles(claims, c.roleClaims...); err != nil {
		return nil, fmt.Errorf("introspect: %w", err)
	}
	if c.typeClaim != "" {
		if s, ok := claims[c.typeClaim].(string); ok {
			if c.typeValues == nil {
				p.Type = s
			} else if t, ok := c.typeValues[s]; ok {
				p.Type = t
			}
		}
	}
	return principal.New(p), nil
}

// maxSeconds keeps a NumericDate within what float64 holds exactly and
// time.Time represents.
const maxSeconds = 1 << 53

// numericDate reads a NumericDate member (seconds since the epoch, possibly
// fractional); the zero Time if it is absent.
func numericDate(claims map[string]any, name string) (time.Time, error) {
	v, ok := claims[name]
	if !ok {
		return time.Time{}, nil
	}
	f, ok := v.(float64)
	if !ok || math.Abs(f) >= maxSeconds {
		return time.Time{}, fmt.Errorf("introspect: %q is not a NumericDate", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// audience reads "aud": a string or an array of strings; null is taken as
// absent.
func audience(claims map[string]any) ([]string, error) {
	switch v := claims["aud"].(type) {
	case nil:
		return nil, nil
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, stderrors.New(`introspect: "aud" holds a non-string`)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, stderrors.New(`introspect: "aud" is neither a string nor an array of strings`)
}

// Causes of refusals of tokens the endpoint called active.
var (
	errExpired        = stderrors.New("introspect: the token's exp has passed")
	errNotYetValid    = stderrors.New("introspect: the token's nbf is still to come")
	errAudience       = stderrors.New("introspect: the token's aud names none of the configured audiences")
	errNoAudience     = stderrors.New("introspect: the answer has no aud (see Config.AllowMissingAudience)")
	errNotAccessToken = stderrors.New("introspect: the token is not an access token")
)

// check applies the resource server's own checks to an active answer,
// whose principal is p.
func (c *Client) check(p *principal.Principal, claims map[string]any) (tgerrors.Kind, error) {
	now := c.now()
	if !p.ExpiresAt().IsZero() && !now.Before(p.ExpiresAt()) {
		return tgerrors.ExpiredToken, errExpired
	}
	if !p.NotBefore().IsZero() && now.Before(p.NotBefore()) {
		return tgerrors.InvalidToken, errNotYetValid
	}
	if len(c.audiences) > 0 && !slices.ContainsFunc(c.audiences, p.HasAudience) {
		// "aud" absent or null; an empty array is an audience that names
		// no one, refused like any other.
		if claims["aud"] != nil {
			return tgerrors.InvalidToken, errAudience
		}
		if !c.allowNoAud {
			return tgerrors.InvalidToken, errNoAudience
		}
	}
	return "", nil
}
