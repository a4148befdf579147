package issuer

import (
	"bytes"
	"context"
	"encoding/json"
	stderrors "errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/jwt"
)

// DefaultAccessTokenLifetime is the lifetime of an access token when
// neither the request nor its grant says otherwise: one hour.
const DefaultAccessTokenLifetime = time.Hour

// SigningKeys gives a Minter the key to sign with. A KeyRing is one;
// FixedKeys wraps a single Signer (a KMS key, say).
type SigningKeys interface {
	// Signer returns the key that signs at now.
	Signer(now time.Time) (Signer, error)
	// MaxTokenLifetime is the longest lifetime a token signed with these
	// keys may have: a key stays published that long after it last signed.
	MaxTokenLifetime() time.Duration
}

// FixedKeys is one Signer that never rotates, for a key a KMS or HSM
// holds (rotate it there, and publish old and new by a KeySource of your
// own). It is SigningKeys for a Minter and a jwt.KeySource for the JWKS
// handler and an in-process verifier.
type FixedKeys struct {
	signer Signer
	max    time.Duration
}

// NewFixedKeys returns FixedKeys signing with s; tokens may live at most
// maxTokenLifetime.
func NewFixedKeys(s Signer, maxTokenLifetime time.Duration) *FixedKeys {
	return &FixedKeys{signer: s, max: maxTokenLifetime}
}

// Signer returns the one signer.
func (f *FixedKeys) Signer(time.Time) (Signer, error) { return f.signer, nil }

// MaxTokenLifetime returns the bound given to NewFixedKeys.
func (f *FixedKeys) MaxTokenLifetime() time.Duration { return f.max }

// KeysVersion is always 1: the key never changes.
func (f *FixedKeys) KeysVersion() uint64 { return 1 }

// PublicKeys returns the signer's public key.
func (f *FixedKeys) PublicKeys() []jwt.StaticKey {
	return []jwt.StaticKey{{ID: f.signer.KeyID(), Algorithm: f.signer.Algorithm(), Public: f.signer.Public()}}
}

// Token is a credential as minted: an access or refresh token. Its String
// and LogValue redact it, so a stray %v or log line cannot print it; Reveal
// returns it for the response body.
type Token string

// Reveal returns the token itself.
func (t Token) Reveal() string { return string(t) }

// String returns "[REDACTED]".
func (Token) String() string { return "[REDACTED]" }

// GoString returns "[REDACTED]".
func (Token) GoString() string { return "[REDACTED]" }

// LogValue returns "[REDACTED]".
func (Token) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

// MinterConfig configures a Minter.
type MinterConfig struct {
	// Issuer is the "iss" of every token, required: the value verifiers
	// match against jwt.Issuer.Issuer.
	Issuer string
	// Keys signs the tokens, required: a *KeyRing or *FixedKeys.
	Keys SigningKeys
	// Lifetime of an access token whose request and grant set none;
	// default DefaultAccessTokenLifetime (1 h).
	Lifetime time.Duration
	// GrantLifetimes are lifetimes by AccessRequest.Grant, e.g.
	// {"client_credentials": 48 * time.Hour}. A request's own Lifetime
	// (the client's) wins over its grant's.
	GrantLifetimes map[string]time.Duration
	// ExtraClaims, if set, adds claims to every token (a tenant id, roles).
	// It cannot set a registered claim (see ReservedClaims): a token whose
	// hook tries is not minted, and Mint returns an error. An error of the
	// hook is Mint's error.
	ExtraClaims func(ctx context.Context, req *AccessRequest) (map[string]any, error)
	// ScopeArray writes "scope" as a JSON array of strings, as some APIs
	// expect, instead of RFC 9068's space-separated string (the default).
	// tollgate's verifier reads either.
	ScopeArray bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// ReservedClaims are the claims a Minter sets itself and
// MinterConfig.ExtraClaims cannot override.
var ReservedClaims = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope", "sid", "typ", "cnf"}

// AccessRequest is what an access token is minted for.
type AccessRequest struct {
	// Subject is the "sub": the user, or for a client_credentials grant
	// the client (the default when empty).
	Subject string
	// ClientID is the "client_id" of the client the token is for, required.
	ClientID string
	// Audience is the "aud", required: the resource servers that accept
	// the token. One value is written as a string, more as an array.
	Audience []string
	// Scopes become the space-separated "scope" (RFC 9068 §2.2.3).
	Scopes []string
	// SessionID is the "sid" of the refresh session the token came from,
	// if any: ending the session revokes the token by it.
	SessionID string
	// Grant is the grant type, which picks MinterConfig.GrantLifetimes.
	Grant string
	// Lifetime, if set, is this token's lifetime (the client's), over the
	// grant's and the default.
	Lifetime time.Duration
}

// AccessToken is a minted access token and what a token response needs.
type AccessToken struct {
	Token     Token
	ID        string // "jti"
	IssuedAt  time.Time
	ExpiresAt time.Time
	Lifetime  time.Duration
}

// Minter mints RFC 9068 access tokens: a compact JWS with "typ": "at+jwt",
// "alg" and "kid" of the current signing key, and the claims iss, sub, aud,
// client_id, scope (when there are scopes), jti (128 random bits), iat,
// exp, and sid when the token came from a refresh session. Verify them with
// a jwt.Verifier whose Issuer has RequiredTyp "at+jwt" and, in the same
// process, KeySource set to the KeyRing.
//
// A Minter is safe for concurrent use.
type Minter struct {
	cfg    MinterConfig
	header atomic.Pointer[mintHeader]
}

type mintHeader struct {
	kid, alg string
	b64      string
}

// NewMinter checks cfg: every lifetime must be positive and within
// Keys.MaxTokenLifetime().
func NewMinter(cfg MinterConfig) (*Minter, error) {
	if cfg.Issuer == "" {
		return nil, stderrors.New("issuer: MinterConfig.Issuer is empty")
	}
	if cfg.Keys == nil {
		return nil, stderrors.New("issuer: MinterConfig.Keys is nil")
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = DefaultAccessTokenLifetime
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Minter{cfg: cfg}
	if err := m.checkLifetime(cfg.Lifetime); err != nil {
		return nil, fmt.Errorf("issuer: MinterConfig.Lifetime: %w", err)
	}
	for g, d := range cfg.GrantLifetimes {
		if err := m.checkLifetime(d); err != nil {
			return nil, fmt.Errorf("issuer: MinterConfig.GrantLifetimes[%q]: %w", g, err)
		}
	}
	return m, nil
}

func (m *Minter) checkLifetime(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("lifetime %v is not positive", d)
	}
	if max := m.cfg.Keys.MaxTokenLifetime(); d > max {
		return fmt.Errorf("lifetime %v exceeds the signing keys' MaxTokenLifetime %v", d, max)
	}
	return nil
}

// Lifetime is the lifetime a token for req gets.
func (m *Minter) Lifetime(req *AccessRequest) time.Duration {
	if req.Lifetime != 0 {
		return req.Lifetime
	}
	if d, ok := m.cfg.GrantLifetimes[req.Grant]; ok {
		return d
	}
	return m.cfg.Lifetime
}

// registeredClaims are written first, in this order.
type registeredClaims struct {
	Iss      string `json:"iss"`
	Sub      string `json:"sub"`
	Aud      any    `json:"aud"`
	ClientID string `json:"client_id"`
	Scope    any    `json:"scope,omitempty"`
	Sid      string `json:"sid,omitempty"`
	Jti      string `json:"jti"`
	Iat      int64  `json:"iat"`
	Exp      int64  `json:"exp"`
}

// Mint signs an access token for req.
func (m *Minter) Mint(ctx context.Context, req AccessRequest) (AccessToken, error) {
	if req.ClientID == "" {
		return AccessToken{}, stderrors.New("issuer: AccessRequest.ClientID is empty")
	}
	if len(req.Audience) == 0 {
		return AccessToken{}, stderrors.New("issuer: AccessRequest.Audience is empty")
	}
	if req.Subject == "" {
		req.Subject = req.ClientID
	}
	life := m.Lifetime(&req)
	if err := m.checkLifetime(life); err != nil {
		return AccessToken{}, fmt.Errorf("issuer: %w", err)
	}
	var extra []byte
	if m.cfg.ExtraClaims != nil {
		claims, err := m.cfg.ExtraClaims(ctx, &req)
		if err != nil {
			return AccessToken{}, err
		}
		for _, name := range ReservedClaims {
			if _, ok := claims[name]; ok {
				return AccessToken{}, fmt.Errorf("issuer: ExtraClaims sets the registered claim %q", name)
			}
		}
		if len(claims) > 0 {
			if extra, err = json.Marshal(claims); err != nil {
				return AccessToken{}, fmt.Errorf("issuer: ExtraClaims: %w", err)
			}
		}
	}
	now := m.cfg.Now()
	signer, err := m.cfg.Keys.Signer(now)
	if err != nil {
		return AccessToken{}, err
	}
	rc := registeredClaims{
		Iss: m.cfg.Issuer, Sub: req.Subject, ClientID: req.ClientID,
		Sid: req.SessionID,
		Jti: randomString(16), Iat: now.Unix(), Exp: now.Add(life).Unix(),
	}
	switch {
	case len(req.Scopes) == 0:
	case m.cfg.ScopeArray:
		rc.Scope = req.Scopes
	default:
		rc.Scope = strings.Join(req.Scopes, " ")
	}
	if len(req.Audience) == 1 {
		rc.Aud = req.Audience[0]
	} else {
		rc.Aud = req.Audience
	}
	payload, err := json.Marshal(&rc)
	if err != nil {
		return AccessToken{}, err
	}
	if extra != nil {
		payload = append(payload[:len(payload)-1], ',')
		payload = append(payload, extra[1:]...)
	}
	h := m.headerFor(signer)
	buf := make([]byte, 0, len(h)+1+b64.EncodedLen(len(payload))+1+b64.EncodedLen(512))
	buf = append(buf, h...)
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, payload)
	sig, err := signer.Sign(ctx, buf)
	if err != nil {
		return AccessToken{}, fmt.Errorf("issuer: signing with key %q: %w", signer.KeyID(), err)
	}
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, sig)
	iat := time.Unix(rc.Iat, 0)
	return AccessToken{Token: Token(buf), ID: rc.Jti, IssuedAt: iat, ExpiresAt: time.Unix(rc.Exp, 0), Lifetime: life}, nil
}

// headerFor returns the encoded JOSE header for s, cached for the last key.
func (m *Minter) headerFor(s Signer) string {
	kid, alg := s.KeyID(), s.Algorithm()
	if h := m.header.Load(); h != nil && h.kid == kid && h.alg == alg {
		return h.b64
	}
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{alg, kid, "at+jwt"})
	h := &mintHeader{kid: kid, alg: alg, b64: b64.EncodeToString(bytes.TrimSpace(b.Bytes()))}
	m.header.Store(h)
	return h.b64
}
