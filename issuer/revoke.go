package issuer

import (
	"context"
	stderrors "errors"
	"log/slog"
	"net/http"
	"time"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/principal"
)

// AccessTokenVerifier verifies the issuer's own access tokens: a
// *jwt.Verifier configured with the KeyRing as its issuer's KeySource.
type AccessTokenVerifier interface {
	Verify(ctx context.Context, token string) (*principal.Principal, error)
}

// AccessTokenRevoker refuses access tokens by their "jti" until they
// expire: redisrevocation.Store is one; a revocation.Memory through
// RevokeIDs.
type AccessTokenRevoker interface {
	RevokeID(ctx context.Context, jti string, until time.Time) error
}

// RevokeIDs adapts a revocation list whose RevokeID takes no context
// (revocation.Memory) to an AccessTokenRevoker.
func RevokeIDs(r interface {
	RevokeID(jti string, until time.Time) error
}) AccessTokenRevoker {
	return revokeIDs{r}
}

type revokeIDs struct {
	r interface {
		RevokeID(jti string, until time.Time) error
	}
}

func (r revokeIDs) RevokeID(_ context.Context, jti string, until time.Time) error {
	return r.r.RevokeID(jti, until)
}

// RevocationConfig configures NewRevocationHandler.
type RevocationConfig struct {
	// Clients authenticates the client, required.
	Clients *Clients
	// Sessions revokes refresh tokens: each ends its session, and
	// OnSessionEnded revokes the session's access tokens. Nil: refresh
	// tokens are not revoked here (answered 200 as unknown).
	Sessions *Sessions
	// Verifier and Revoker revoke access tokens: a token Verifier accepts
	// and the client's own is refused by its jti until it expires. Nil:
	// access tokens are not revoked (answered 200 as unknown).
	Verifier AccessTokenVerifier
	Revoker  AccessTokenRevoker
	// MaxBodyBytes bounds the body; zero means DefaultTokenBodyBytes.
	MaxBodyBytes int64
	// Timeout is as in TokenConfig: DefaultEndpointTimeout by default.
	Timeout time.Duration
	// ErrorFormat, Realm and Log are as in TokenConfig.
	ErrorFormat tgerrors.Format
	Realm       string
	Log         *slog.Logger
}

// NewRevocationHandler returns an RFC 7009 revocation endpoint: a POST of
// token and an optional token_type_hint (refresh_token or access_token),
// in the bodies NewTokenHandler reads, by an authenticated client (Basic
// or in the body, as at the token endpoint). A refresh token of the
// client ends its session, so the whole family is refused from then on; an
// access token of the client (its client_id) is put in the revocation list
// by jti until its exp. The answer is 200 with an empty body, for an
// unknown, expired or already revoked token too and for another client's,
// which is left alone (RFC 7009 §2.2). Refusals are as at the token
// endpoint: invalid_client (401, Basic challenge), invalid_request (no
// token), unsupported_token_type for a hint it does not know, 503 when a
// store fails.
func NewRevocationHandler(cfg RevocationConfig) (http.Handler, error) {
	if cfg.Clients == nil {
		return nil, stderrors.New("issuer: RevocationConfig needs Clients")
	}
	if (cfg.Verifier == nil) != (cfg.Revoker == nil) {
		return nil, stderrors.New("issuer: RevocationConfig needs both Verifier and Revoker, or neither")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultTokenBodyBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultEndpointTimeout
	}
	if cfg.Realm == "" {
		cfg.Realm = "token"
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &revocationHandler{cfg: cfg}, nil
}

type revocationHandler struct {
	cfg RevocationConfig
}

func (h *revocationHandler) refuse(w http.ResponseWriter, r *http.Request, e *refusal) {
	writeRefusal(w, r, formatOf(h.cfg.ErrorFormat, r), h.cfg.Realm, e)
}

func (h *revocationHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		h.refuse(w, r, errMethod)
		return
	}
	r, cancel := withDeadline(r, h.cfg.Timeout)
	defer cancel()
	p, e := readParams(w, r, h.cfg.MaxBodyBytes, false)
	if e != nil {
		h.refuse(w, r, e)
		return
	}
	// A public client identifies itself by client_id alone (RFC 7009
	// §2.1); it can revoke only its own tokens.
	ctx := r.Context()
	client, _, e := authenticateClient(ctx, r, p, h.cfg.Clients, h.cfg.Log, "revocation endpoint", "")
	if e != nil {
		h.refuse(w, r, e)
		return
	}
	token := p.get("token")
	if token == "" {
		h.refuse(w, r, invalidRequest("token is required"))
		return
	}
	hint := p.get("token_type_hint")
	if hint != "" && hint != "refresh_token" && hint != "access_token" {
		h.refuse(w, r, &refusal{http.StatusBadRequest, "unsupported_token_type", "token_type_hint is not supported", tgerrors.InvalidRequest})
		return
	}
	// A refresh token is 43 base64url characters and a JWT has dots: the
	// hint only orders the attempts, as RFC 7009 §2.1 allows.
	done, err := false, error(nil)
	if hint != "access_token" {
		done, err = h.revokeRefresh(ctx, client.ID, token)
	}
	if err == nil && !done {
		done, err = h.revokeAccess(ctx, client.ID, token)
	}
	if err == nil && !done && hint == "access_token" {
		_, err = h.revokeRefresh(ctx, client.ID, token)
	}
	if err != nil {
		h.cfg.Log.ErrorContext(ctx, "tollgate: revocation endpoint: revoking failed", "client_id", client.ID, "error", err)
		h.refuse(w, r, errUnavailable)
		return
	}
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("Pragma", "no-cache")
	hd.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

func (h *revocationHandler) revokeRefresh(ctx context.Context, clientID, token string) (bool, error) {
	if h.cfg.Sessions == nil {
		return false, nil
	}
	err := h.cfg.Sessions.Revoke(ctx, clientID, token)
	if stderrors.Is(err, ErrRefreshUnknown) {
		return false, nil
	}
	return err == nil, err
}

func (h *revocationHandler) revokeAccess(ctx context.Context, clientID, token string) (bool, error) {
	if h.cfg.Verifier == nil {
		return false, nil
	}
	p, err := h.cfg.Verifier.Verify(ctx, token)
	if err != nil || p.ClientID() != clientID || p.TokenID() == "" {
		return false, nil // invalid, expired or another client's: nothing to do
	}
	return true, h.cfg.Revoker.RevokeID(ctx, p.TokenID(), p.ExpiresAt())
}
