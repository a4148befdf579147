package issuer

import (
	"context"
	stderrors "errors"
	"net/http"
	"slices"
)

// redemption is a code checked against the token request that presents
// it, not yet redeemed.
type redemption struct {
	hash TokenHash
	code AuthorizationCode
}

// check finds the code and checks what binds it (RFC 6749 §4.1.3, RFC
// 7636 §4.6) without consuming it: a request from another client, with
// another redirect URI or a wrong verifier learns nothing and spends
// nothing. A code redeemed before is replay: the tokens issued from it are
// revoked, whoever presents it. An empty redirectURI or verifier is one
// the request did not send (§3.2: an empty parameter is omitted).
func (g *Grants) check(ctx context.Context, clientID string, public bool, code, redirectURI, verifier string) (redemption, error) {
	if !is256Bits(code) {
		return redemption{}, ErrCodeUnknown
	}
	h := HashCode(code)
	c, err := g.cfg.Codes.Code(ctx, h)
	switch {
	case stderrors.Is(err, ErrNotFound):
		return redemption{}, ErrCodeUnknown
	case err != nil:
		return redemption{}, err
	case !c.RedeemedAt.IsZero():
		if err := g.redeem(ctx, h); err != nil {
			return redemption{}, err
		}
		return redemption{}, ErrCodeReused
	case c.ClientID != clientID:
		return redemption{}, ErrCodeUnknown
	case !g.cfg.Now().Before(c.ExpiresAt):
		return redemption{}, ErrCodeExpired
	}
	// §4.1.3: the same redirect_uri if the authorization request had one.
	if (c.RedirectURIGiven || redirectURI != "") && redirectURI != c.RedirectURI {
		return redemption{}, ErrCodeUnknown
	}
	// RFC 9700 §2.1.1: a verifier without a challenge is a downgrade. A
	// public client's code always has a challenge (the authorization
	// endpoint requires one); this holds it should the registration
	// change.
	if c.Challenge == "" {
		if verifier != "" || public {
			return redemption{}, ErrCodeUnknown
		}
	} else if !validVerifier(verifier) || !verifierMatches(verifier, c.Challenge) {
		return redemption{}, ErrCodeUnknown
	}
	return redemption{hash: h, code: c}, nil
}

// redeem consumes the code hashed as h, checked before. A code redeemed
// before (by an earlier request, or a concurrent one that won) is replay:
// the session it started is ended, and the answer is ErrCodeReused.
func (g *Grants) redeem(ctx context.Context, h TokenHash) error {
	c, err := g.cfg.Codes.RedeemCode(ctx, h, g.cfg.Now())
	switch {
	case stderrors.Is(err, ErrNotFound):
		return ErrCodeUnknown // swept since check: long expired
	case stderrors.Is(err, ErrCodeReused):
		if c.SessionID != "" {
			if err := g.cfg.Sessions.End(ctx, c.SessionID); err != nil && !stderrors.Is(err, ErrNotFound) {
				return err
			}
		}
	}
	return err
}

// bind records the session a redeemed code started and checks that its
// grant still stands; if the code was replayed or the grant revoked
// meanwhile, it ends the session and says why.
func (g *Grants) bind(ctx context.Context, rd redemption, sid string) error {
	err := g.cfg.Codes.BindCode(ctx, rd.hash, sid)
	if err == nil {
		var gr Grant
		gr, err = g.cfg.Store.Grant(ctx, rd.code.Subject, rd.code.ClientID)
		if stderrors.Is(err, ErrNotFound) || err == nil && gr.ID != rd.code.GrantID {
			err = ErrGrantRevoked
		}
	}
	if err != nil {
		if eerr := g.cfg.Sessions.End(ctx, sid); eerr != nil && !stderrors.Is(eerr, ErrNotFound) {
			return eerr
		}
	}
	return err
}

// authorizationCode is the token endpoint's authorization_code grant
// (RFC 6749 §4.1.3): a checked code is redeemed once, starts a refresh
// session (so that a replay can end what it issued), and answers an
// access token with that session's "sid", and its first refresh token if
// the client and the endpoint have the refresh_token grant.
func (h *tokenHandler) authorizationCode(r *http.Request, client *Client, p params, resp *tokenResponse) *refusal {
	ctx := r.Context()
	code := p.get("code")
	if code == "" {
		return invalidRequest("code is required")
	}
	g := h.cfg.CodeGrants
	rd, err := g.check(ctx, client.ID, client.Public, code, p.get("redirect_uri"), p.get("code_verifier"))
	if err == nil {
		err = g.redeem(ctx, rd.hash)
	}
	if err != nil {
		return h.codeRefusal(ctx, client, err)
	}
	// The client's registration may have narrowed since the code was
	// issued: it gets what it still may.
	var scopes []string
	for _, s := range rd.code.Scopes {
		if slices.Contains(client.Scopes, s) && client.grantGives(GrantAuthorizationCode, s) {
			scopes = append(scopes, s)
		}
	}
	rt, err := h.cfg.Sessions.Start(ctx, SessionRequest{
		ClientID: client.ID, Subject: rd.code.Subject, Grant: GrantAuthorizationCode, Scopes: scopes, Audience: client.Audience,
		AbsoluteLifetime: client.RefreshAbsoluteLifetime, IdleLifetime: client.RefreshIdleLifetime,
	})
	if err != nil {
		h.cfg.Log.ErrorContext(ctx, "tollgate: token endpoint: starting a session failed", "client_id", client.ID, "error", err)
		return errUnavailable
	}
	if err := g.bind(ctx, rd, rt.Session.ID); err != nil {
		return h.codeRefusal(ctx, client, err)
	}
	if e := h.mint(ctx, AccessRequest{
		Subject: rd.code.Subject, ClientID: client.ID, Audience: client.Audience, Scopes: scopes,
		SessionID: rt.Session.ID, Grant: GrantAuthorizationCode, Lifetime: client.AccessTokenLifetime,
	}, resp); e != nil {
		_ = h.cfg.Sessions.End(ctx, rt.Session.ID)
		return e
	}
	if client.AllowsGrant(GrantRefreshToken) && slices.Contains(h.cfg.Grants, GrantRefreshToken) {
		resp.RefreshToken = rt.Token.Reveal()
	}
	return nil
}

// codeRefusal answers a refused code: invalid_grant, or 503 for a store
// that failed.
func (h *tokenHandler) codeRefusal(ctx context.Context, client *Client, err error) *refusal {
	if stderrors.Is(err, ErrInvalidGrant) {
		if stderrors.Is(err, ErrCodeReused) {
			h.cfg.Log.WarnContext(ctx, "tollgate: token endpoint: an authorization code was presented again; the tokens issued from it are revoked", "client_id", client.ID)
		}
		return errInvalidGrant
	}
	h.cfg.Log.ErrorContext(ctx, "tollgate: token endpoint: redeeming a code failed", "client_id", client.ID, "error", err)
	return errUnavailable
}
