package apikey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/ratelimit"
)

// HandlerConfig configures Handler. Its zero value serves every caller's
// own keys, as named by its principal, with any valid permission names.
type HandlerConfig struct {
	// Owner names the owner a caller manages keys for, or refuses the
	// caller (forbidden, 403) by reporting false. Default:
	// OwnerOfPrincipal.
	Owner func(r *http.Request, p *principal.Principal) (Owner, bool)
	// Permissions, if set, are the only permissions a key may be given
	// through the handler; others are refused with validation (400).
	Permissions []string
	// Prefixes, if set, are the only prefixes the handler creates keys
	// of; default every configured prefix.
	Prefixes []string
	// MaxGrace bounds the grace period of a rotation. Default 7 days.
	MaxGrace time.Duration
	// AllowLimits lets callers set rate_limit and remaining_uses. Off by
	// default, and refused with validation (400): a merchant managing its
	// own keys would otherwise raise its own rate limit. The provider sets
	// them with Keys.Update.
	AllowLimits bool
	// AllowAPIKeys lets a caller authenticated by one of these keys use
	// the handler. Off by default, and refused with forbidden (403): a
	// token with only can_read_order could otherwise mint a token with
	// every permission. If you turn it on, guard the handler with
	// scopes.Require of a permission of your own.
	AllowAPIKeys bool
}

// OwnerOfPrincipal is HandlerConfig.Owner's default: the principal's
// subject, with its org_id and app_id claims. It refuses a principal
// without a subject.
func OwnerOfPrincipal(_ *http.Request, p *principal.Principal) (Owner, bool) {
	if p.Subject() == "" {
		return Owner{}, false
	}
	return Owner{ID: p.Subject(), OrgID: p.StringClaim("org_id"), AppID: p.StringClaim("app_id")}, true
}

// maxBody caps a management request's body.
const maxBody = 64 << 10

// Handler returns the management API as JSON, for a portal's front end,
// with paths relative to where it is mounted:
//
//	POST   /keys                  create: {"name", "permissions", "expires_at", "prefix",
//	                              "metadata"} (and, with AllowLimits, "rate_limit":
//	                              {"events", "per_seconds", "burst"}, "remaining_uses")
//	                              → 201 {"key": {…}, "token": "mt_live_…"}
//	GET    /keys?after=&limit=    list the caller's keys → {"keys": […], "next": "key_…"}
//	GET    /keys/{id}             one key
//	PATCH  /keys/{id}             change name, permissions, expires_at, metadata,
//	                              rate_limit, remaining_uses (null clears the last four)
//	POST   /keys/{id}/deactivate  and /reactivate
//	POST   /keys/{id}/rotate      {"grace_seconds": 3600} → {"key": {…}, "token": "…"}
//	DELETE /keys/{id}             revoke, for good
//
// The token is in the body of create and rotate only. The handler must
// run behind middleware.Authenticate with the portal's own credentials; a
// caller authenticated by one of k's API keys is refused with forbidden
// unless HandlerConfig.AllowAPIKeys. The caller's principal names the owner (see
// HandlerConfig.Owner), a key of another owner is answered 404 as if it
// did not exist, and without a principal every request is missing_token.
// Refusals are *errors.Error written by the format errors.Use chose:
// validation or syntax (400) for a bad body, 404 for an unknown key, 409
// for a change to a revoked key, unavailable (503) when the store fails.
func (k *Keys) Handler(cfg HandlerConfig) http.Handler {
	if cfg.Owner == nil {
		cfg.Owner = OwnerOfPrincipal
	}
	if cfg.MaxGrace == 0 {
		cfg.MaxGrace = 7 * 24 * time.Hour
	}
	h := &handler{k: k, cfg: cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /keys", h.create)
	mux.HandleFunc("GET /keys", h.list)
	mux.HandleFunc("GET /keys/{id}", h.get)
	mux.HandleFunc("PATCH /keys/{id}", h.update)
	mux.HandleFunc("POST /keys/{id}/deactivate", h.deactivate)
	mux.HandleFunc("POST /keys/{id}/reactivate", h.reactivate)
	mux.HandleFunc("POST /keys/{id}/rotate", h.rotate)
	mux.HandleFunc("DELETE /keys/{id}", h.revoke)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := principal.From(r.Context())
		if !ok {
			tgerrors.Write(w, r, tgerrors.New(tgerrors.MissingToken, ""))
			return
		}
		if !cfg.AllowAPIKeys && k.madeByKeys(p) {
			tgerrors.Write(w, r, errNotOwner)
			return
		}
		if _, pattern := mux.Handler(r); pattern == "" {
			tgerrors.Write(w, r, errNoRoute)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

var (
	errNoRoute    = &tgerrors.Error{Kind: "not_found", Status: http.StatusNotFound, Message: "No such resource"}
	errNoKey      = &tgerrors.Error{Kind: "not_found", Status: http.StatusNotFound, Message: "No such key"}
	errRevokedKey = &tgerrors.Error{Kind: "conflict", Status: http.StatusConflict, Message: "The key is revoked"}
	errNotOwner   = tgerrors.New(tgerrors.Forbidden, "You may not manage API keys")

	errLimitsNotAllowed = fmt.Errorf("%w: rate_limit and remaining_uses are set by the provider", ErrInvalid)
)

type handler struct {
	k   *Keys
	cfg HandlerConfig
}

// KeyJSON is a key as the management API writes it.
type KeyJSON struct {
	ID            string            `json:"id"`
	Name          string            `json:"name"`
	Prefix        string            `json:"prefix"`
	Hint          string            `json:"hint"`
	Status        Status            `json:"status"`
	Permissions   []string          `json:"permissions"`
	Metadata      map[string]string `json:"metadata,omitempty"`
	OrgID         string            `json:"org_id,omitempty"`
	AppID         string            `json:"app_id,omitempty"`
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at"`
	ExpiresAt     *time.Time        `json:"expires_at"`
	LastUsedAt    *time.Time        `json:"last_used_at"`
	RateLimit     *RateLimitJSON    `json:"rate_limit"`
	RemainingUses *int64            `json:"remaining_uses"`
}

// RateLimitJSON is a key's own rate limit in the management API.
type RateLimitJSON struct {
	Events     int     `json:"events"`
	PerSeconds float64 `json:"per_seconds"`
	Burst      int     `json:"burst,omitempty"`
}

func (h *handler) toJSON(key *Key) KeyJSON {
	j := KeyJSON{
		ID: key.ID, Name: key.Name, Prefix: key.Prefix, Hint: key.Hint,
		Status:      key.StatusAt(h.k.now()),
		Permissions: key.Permissions, Metadata: key.Metadata,
		OrgID: key.Owner.OrgID, AppID: key.Owner.AppID,
		CreatedAt: key.CreatedAt, UpdatedAt: key.UpdatedAt,
		ExpiresAt: timePtr(key.ExpiresAt), LastUsedAt: timePtr(key.LastUsedAt),
		RemainingUses: key.RemainingUses,
	}
	if j.Permissions == nil {
		j.Permissions = []string{}
	}
	if l := key.RateLimit; l != nil {
		j.RateLimit = &RateLimitJSON{Events: l.Events, PerSeconds: l.Per.Seconds(), Burst: l.Burst}
	}
	return j
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (l *RateLimitJSON) limit() (*ratelimit.Limit, error) {
	if l == nil {
		return nil, nil
	}
	if l.PerSeconds <= 0 || l.PerSeconds > 366*24*3600 {
		return nil, fmt.Errorf("%w: rate_limit.per_seconds must be positive and at most a year", ErrInvalid)
	}
	return &ratelimit.Limit{Events: l.Events, Per: time.Duration(l.PerSeconds * float64(time.Second)), Burst: l.Burst}, nil
}

type createRequest struct {
	Name          string            `json:"name"`
	Prefix        string            `json:"prefix"`
	Permissions   []string          `json:"permissions"`
	Metadata      map[string]string `json:"metadata"`
	ExpiresAt     *time.Time        `json:"expires_at"`
	RateLimit     *RateLimitJSON    `json:"rate_limit"`
	RemainingUses *int64            `json:"remaining_uses"`
}

type tokenResponse struct {
	Key   KeyJSON `json:"key"`
	Token string  `json:"token"`
}

func (h *handler) create(w http.ResponseWriter, r *http.Request) {
	owner, ok := h.owner(w, r)
	if !ok {
		return
	}
	var req createRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Name == "" {
		h.fail(w, r, fmt.Errorf("%w: name is required", ErrInvalid))
		return
	}
	if len(h.cfg.Prefixes) > 0 && req.Prefix == "" {
		req.Prefix = h.cfg.Prefixes[0]
	}
	if len(h.cfg.Prefixes) > 0 && !slices.Contains(h.cfg.Prefixes, req.Prefix) {
		h.fail(w, r, fmt.Errorf("%w: prefix %q is not offered", ErrInvalid, req.Prefix))
		return
	}
	if err := h.allowed(req.Permissions); err != nil {
		h.fail(w, r, err)
		return
	}
	if !h.cfg.AllowLimits && (req.RateLimit != nil || req.RemainingUses != nil) {
		h.fail(w, r, errLimitsNotAllowed)
		return
	}
	limit, err := req.RateLimit.limit()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	s := Spec{Prefix: req.Prefix, Name: req.Name, Owner: owner, Permissions: req.Permissions,
		Metadata: req.Metadata, RateLimit: limit, RemainingUses: req.RemainingUses}
	if req.ExpiresAt != nil {
		s.ExpiresAt = *req.ExpiresAt
	}
	key, secret, err := h.k.Create(r.Context(), s)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, tokenResponse{Key: h.toJSON(key), Token: secret.Reveal()})
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	owner, ok := h.owner(w, r)
	if !ok {
		return
	}
	limit := 0
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxPage {
			h.fail(w, r, fmt.Errorf("%w: limit is 1 to %d", ErrInvalid, MaxPage))
			return
		}
		limit = n
	}
	keys, next, err := h.k.List(r.Context(), owner.ID, r.URL.Query().Get("after"), limit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]KeyJSON, len(keys))
	for i, key := range keys {
		out[i] = h.toJSON(key)
	}
	writeJSON(w, http.StatusOK, struct {
		Keys []KeyJSON `json:"keys"`
		Next string    `json:"next"`
	}{out, next})
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	if key, ok := h.ownKey(w, r); ok {
		writeJSON(w, http.StatusOK, h.toJSON(key))
	}
}

// updateRequest distinguishes an absent member (unchanged) from null
// (cleared) with json.RawMessage.
type updateRequest struct {
	Name          *string         `json:"name"`
	Permissions   *[]string       `json:"permissions"`
	Metadata      json.RawMessage `json:"metadata"`
	ExpiresAt     json.RawMessage `json:"expires_at"`
	RateLimit     json.RawMessage `json:"rate_limit"`
	RemainingUses json.RawMessage `json:"remaining_uses"`
}

func (h *handler) update(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.ownKey(w, r); !ok {
		return
	}
	var req updateRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Permissions != nil {
		if err := h.allowed(*req.Permissions); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	if !h.cfg.AllowLimits && (req.RateLimit != nil || req.RemainingUses != nil) {
		h.fail(w, r, errLimitsNotAllowed)
		return
	}
	key, err := h.k.Update(r.Context(), r.PathValue("id"), func(key *Key) error {
		if req.Name != nil {
			key.Name = *req.Name
		}
		if req.Permissions != nil {
			key.Permissions = *req.Permissions
		}
		if err := optional(req.Metadata, &key.Metadata); err != nil {
			return err
		}
		var exp *time.Time
		if req.ExpiresAt != nil {
			if err := optional(req.ExpiresAt, &exp); err != nil {
				return err
			}
			key.ExpiresAt = time.Time{}
			if exp != nil {
				key.ExpiresAt = *exp
			}
		}
		if req.RateLimit != nil {
			var l *RateLimitJSON
			if err := optional(req.RateLimit, &l); err != nil {
				return err
			}
			limit, err := l.limit()
			if err != nil {
				return err
			}
			key.RateLimit = limit
		}
		return optional(req.RemainingUses, &key.RemainingUses)
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.toJSON(key))
}

// optional decodes raw into dst if the member was present; null sets dst
// to its zero value.
func optional[T any](raw json.RawMessage, dst *T) error {
	if raw == nil {
		return nil
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	*dst = v
	return nil
}

func (h *handler) deactivate(w http.ResponseWriter, r *http.Request) {
	h.status(w, r, h.k.Deactivate)
}

func (h *handler) reactivate(w http.ResponseWriter, r *http.Request) {
	h.status(w, r, h.k.Reactivate)
}

func (h *handler) revoke(w http.ResponseWriter, r *http.Request) {
	h.status(w, r, h.k.Revoke)
}

func (h *handler) status(w http.ResponseWriter, r *http.Request, op func(context.Context, string) (*Key, error)) {
	if _, ok := h.ownKey(w, r); !ok {
		return
	}
	key, err := op(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.toJSON(key))
}

func (h *handler) rotate(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.ownKey(w, r); !ok {
		return
	}
	var req struct {
		GraceSeconds int64 `json:"grace_seconds"`
	}
	if r.ContentLength != 0 && !decode(w, r, &req) {
		return
	}
	grace := time.Duration(req.GraceSeconds) * time.Second
	if req.GraceSeconds < 0 || grace > h.cfg.MaxGrace {
		h.fail(w, r, fmt.Errorf("%w: grace_seconds is 0 to %d", ErrInvalid, int64(h.cfg.MaxGrace/time.Second)))
		return
	}
	key, secret, err := h.k.Rotate(r.Context(), r.PathValue("id"), grace)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tokenResponse{Key: h.toJSON(key), Token: secret.Reveal()})
}

// owner is the caller's owner, or writes the refusal.
func (h *handler) owner(w http.ResponseWriter, r *http.Request) (Owner, bool) {
	p, _ := principal.From(r.Context())
	o, ok := h.cfg.Owner(r, p)
	if !ok || o.ID == "" {
		tgerrors.Write(w, r, errNotOwner)
		return Owner{}, false
	}
	return o, true
}

// ownKey reads the key of the path if the caller owns it; another
// owner's key is answered as a missing one.
func (h *handler) ownKey(w http.ResponseWriter, r *http.Request) (*Key, bool) {
	o, ok := h.owner(w, r)
	if !ok {
		return nil, false
	}
	key, err := h.k.Get(r.Context(), r.PathValue("id"))
	if err == nil && key.Owner.ID != o.ID {
		err = ErrNotFound
	}
	if err != nil {
		h.fail(w, r, err)
		return nil, false
	}
	return key, true
}

func (h *handler) allowed(perms []string) error {
	if h.cfg.Permissions == nil {
		return nil
	}
	for _, p := range perms {
		if !slices.Contains(h.cfg.Permissions, p) {
			return fmt.Errorf("%w: permission %q is not offered", ErrInvalid, p)
		}
	}
	return nil
}

// fail writes err as the management API's refusal.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		tgerrors.Write(w, r, errNoKey)
	case errors.Is(err, ErrRevoked):
		tgerrors.Write(w, r, errRevokedKey)
	case errors.Is(err, ErrInvalid):
		// The text names the field at fault and carries nothing secret.
		tgerrors.Write(w, r, tgerrors.Wrap(tgerrors.Validation, validationMessage(err), err))
	default:
		tgerrors.Write(w, r, tgerrors.Wrap(tgerrors.Unavailable, "", err))
	}
}

// validationMessage is the client-safe sentence of an ErrInvalid error:
// the text after "apikey: invalid key: ".
func validationMessage(err error) string {
	s := err.Error()
	const p = "apikey: invalid key: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return "The request is invalid"
}

// decode reads a JSON body of at most maxBody bytes with no unknown
// members, or writes the refusal.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("trailing data after the JSON value")
	}
	if err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			tgerrors.Write(w, r, tgerrors.Wrap(tgerrors.Syntax, "The body is not valid JSON", err))
		} else {
			tgerrors.Write(w, r, tgerrors.Wrap(tgerrors.Validation, "The body does not match the expected fields", err))
		}
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
