// Package authtest is a token issuer for tests: it holds an RSA, an ECDSA
// (P-256) and an Ed25519 signing key, serves their public halves as a JWKS
// from an httptest server, and mints JWTs with any claims.
//
// It is meant for the tests of applications that use tollgate, and for
// tollgate's own:
//
//	iss := authtest.NewIssuer(t)
//	v, err := jwt.NewVerifier(ctx, jwt.Config{
//		Issuers: []jwt.Issuer{{
//			Issuer:     iss.URL(),
//			JWKSURL:    iss.JWKSURL(),
//			Audiences:  []string{"orders-api"},
//			Algorithms: []string{"RS256"},
//		}},
//	})
//	token := iss.Mint(map[string]any{"sub": "user-1", "aud": "orders-api"})
//
// Besides minting valid tokens, an Issuer can misbehave on request, so that
// the failure paths of a verifier can be tested without sleeping: Rotate
// replaces every key, SetFailing makes the JWKS endpoint answer with an error
// status, SetBody serves arbitrary bytes in its place, SetStalled makes it
// hang, and FetchCount tells how often it was asked. Sign builds tokens from
// exact header and payload bytes, for inputs a well-behaved issuer never
// produces (duplicate members, forged headers).
//
// The keys are generated for each Issuer and live only in memory. Nothing in
// this package is fit to issue real credentials.
//
// authtest depends on the standard library only; it does not import tollgate.
package authtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// JWKSPath is the path of the key set on an Issuer's server.
const JWKSPath = "/.well-known/jwks.json"

// The algorithms of the three keys an Issuer holds, as their JWKs advertise
// them. The RSA key also signs RS384, RS512, PS256, PS384 and PS512 on
// request, under the same JWK (whose "alg" says RS256).
const (
	RS256 = "RS256"
	ES256 = "ES256"
	EdDSA = "EdDSA"
)

// Option configures an Issuer.
type Option func(*Issuer)

// WithClock makes the Issuer read the time from now, for the "iat" and "exp"
// claims Mint fills in. Give it the same clock as the verifier under test so
// that no test has to sleep.
func WithClock(now func() time.Time) Option {
	return func(i *Issuer) { i.now = now }
}

// WithLifetime sets how long minted tokens live: "exp" is "iat" plus d. The
// default is one hour.
func WithLifetime(d time.Duration) Option {
	return func(i *Issuer) { i.lifetime = d }
}

// Issuer is an OAuth/OIDC token issuer for tests. Its issuer identifier (the
// "iss" of the tokens it mints) is the URL of its httptest server, which
// serves the public keys at JWKSPath and an OpenID discovery document at
// /.well-known/openid-configuration. All methods are safe for concurrent use.
type Issuer struct {
	srv      *httptest.Server
	now      func() time.Time
	lifetime time.Duration
	fetches  atomic.Int64

	mu           sync.Mutex
	keys         map[string]*signingKey // by family: RS256, ES256, EdDSA
	failStatus   int
	body         []byte
	cacheControl string
	stall        chan struct{} // non-nil while stalled; closed to release
	closed       bool
}

type signingKey struct {
	kid  string
	priv crypto.Signer
	jwk  map[string]any
}

// NewIssuer starts an Issuer for the test t and closes it when the test ends.
// It fails the test if keys cannot be generated.
func NewIssuer(t testing.TB, opts ...Option) *Issuer {
	t.Helper()
	i, err := NewLocalIssuer(opts...)
	if err != nil {
		t.Fatalf("authtest: %v", err)
	}
	t.Cleanup(i.Close)
	return i
}

// NewLocalIssuer starts an Issuer on a loopback port without a testing.T, for
// examples and local demo servers. The caller must Close it.
func NewLocalIssuer(opts ...Option) (*Issuer, error) {
	i := &Issuer{now: time.Now, lifetime: time.Hour}
	for _, o := range opts {
		o(i)
	}
	keys, err := generateKeys()
	if err != nil {
		return nil, err
	}
	i.keys = keys
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+JWKSPath, i.serveJWKS)
	mux.HandleFunc("GET /.well-known/openid-configuration", i.serveDiscovery)
	i.srv = httptest.NewServer(mux)
	return i, nil
}

// Close releases any stalled request and shuts the server down. It is safe to
// call more than once.
func (i *Issuer) Close() {
	i.mu.Lock()
	if i.closed {
		i.mu.Unlock()
		return
	}
	i.closed = true
	if i.stall != nil {
		close(i.stall)
		i.stall = nil
	}
	i.mu.Unlock()
	i.srv.Close()
}

// URL is the issuer identifier: the "iss" claim of minted tokens, and the
// base URL of the server.
func (i *Issuer) URL() string { return i.srv.URL }

// JWKSURL is where the public keys are served.
func (i *Issuer) JWKSURL() string { return i.srv.URL + JWKSPath }

// KID returns the key ID of the current key for alg: the P-256 key for
// ES256, the Ed25519 key for EdDSA, the RSA key for any other alg.
func (i *Issuer) KID(alg string) string {
	return i.key(alg).kid
}

// PublicKey returns the public half of the current key for alg (chosen as
// by KID): an *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey, for
// verifiers configured with static keys.
func (i *Issuer) PublicKey(alg string) crypto.PublicKey {
	return i.key(alg).priv.Public()
}

// Rotate replaces every key with a new one under a new key ID. From now on
// the JWKS serves only the new keys, and Mint signs with them: tokens minted
// before are no longer verifiable once a verifier refreshes its keys.
func (i *Issuer) Rotate() {
	keys, err := generateKeys()
	if err != nil {
		panic("authtest: " + err.Error())
	}
	i.mu.Lock()
	i.keys = keys
	i.mu.Unlock()
}

// FetchCount is how many times the JWKS was requested, failed answers
// included.
func (i *Issuer) FetchCount() int64 { return i.fetches.Load() }

// SetFailing makes the JWKS endpoint answer every request with status and no
// keys, to simulate an outage. SetFailing(0) restores normal service.
func (i *Issuer) SetFailing(status int) {
	i.mu.Lock()
	i.failStatus = status
	i.mu.Unlock()
}

// SetBody makes the JWKS endpoint answer 200 with exactly body (garbage, an
// empty set, a key of an unknown type…) instead of the keys. SetBody(nil)
// restores normal service.
func (i *Issuer) SetBody(body []byte) {
	i.mu.Lock()
	i.body = body
	i.mu.Unlock()
}

// SetCacheControl sets the Cache-Control header sent with the JWKS, for
// example "max-age=300". The default is none.
func (i *Issuer) SetCacheControl(value string) {
	i.mu.Lock()
	i.cacheControl = value
	i.mu.Unlock()
}

// SetStalled(true) makes JWKS requests hang, counted but unanswered, until
// SetStalled(false), Close, or the client gives up: a timeout, without
// sleeping in the test.
func (i *Issuer) SetStalled(stalled bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	switch {
	case stalled && i.stall == nil && !i.closed:
		i.stall = make(chan struct{})
	case !stalled && i.stall != nil:
		close(i.stall)
		i.stall = nil
	}
}

// JWKS returns the key set the endpoint serves in normal operation, as JSON.
func (i *Issuer) JWKS() []byte {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.jwksLocked()
}

func (i *Issuer) jwksLocked() []byte {
	set := make([]map[string]any, 0, len(i.keys))
	for _, fam := range []string{RS256, ES256, EdDSA} {
		set = append(set, i.keys[fam].jwk)
	}
	b, err := json.Marshal(map[string]any{"keys": set})
	if err != nil {
		panic("authtest: " + err.Error())
	}
	return b
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	i.fetches.Add(1)
	i.mu.Lock()
	stall, status, body, cc := i.stall, i.failStatus, i.body, i.cacheControl
	if body == nil && status == 0 {
		body = i.jwksLocked()
	}
	i.mu.Unlock()
	if stall != nil {
		select {
		case <-stall:
		case <-r.Context().Done():
			return
		}
	}
	if status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	_, _ = w.Write(body)
}

func (i *Issuer) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"issuer":                                i.URL(),
		"jwks_uri":                              i.JWKSURL(),
		"id_token_signing_alg_values_supported": []string{RS256, ES256, EdDSA},
	})
}

// MintOption changes how Mint or Sign signs a token.
type MintOption func(*mintConfig)

type mintConfig struct {
	alg    string
	kid    *string
	header map[string]any
	secret []byte
}

// WithAlg signs with alg instead of RS256: RS256, RS384, RS512, PS256,
// PS384, PS512 (the RSA key), ES256 (the P-256 key), EdDSA (the Ed25519
// key), or HS256, HS384, HS512 together with WithHMACSecret. Any other value
// is written into the header as given and the token is signed with the RSA
// key, so that a verifier can be shown a header whose alg lies.
func WithAlg(alg string) MintOption {
	return func(c *mintConfig) { c.alg = alg }
}

// WithKID writes kid as the "kid" header instead of the signing key's own
// ID; WithKID("") leaves "kid" out.
func WithKID(kid string) MintOption {
	return func(c *mintConfig) { c.kid = &kid }
}

// WithHeader sets a protected header member (typ, crit, jku, …); a nil value
// removes the member, "kid" and "alg" included.
func WithHeader(name string, value any) MintOption {
	return func(c *mintConfig) {
		if c.header == nil {
			c.header = map[string]any{}
		}
		c.header[name] = value
	}
}

// WithHMACSecret signs with HMAC under secret (HS256 unless WithAlg says
// HS384 or HS512) instead of the Issuer's keys, and leaves "kid" out unless
// WithKID sets one.
func WithHMACSecret(secret []byte) MintOption {
	return func(c *mintConfig) { c.secret = secret }
}

// Mint returns a compact JWS whose payload is claims over these defaults:
// "iss" is URL(), "iat" is now and "exp" now plus the lifetime (one hour
// unless WithLifetime), as NumericDates. A claim given in claims replaces
// the default; a nil value removes it. The header carries "alg", "typ":
// "JWT" and the signing key's "kid", which opts may change.
//
// Mint panics if the token cannot be signed (an HMAC alg without a secret):
// that is a mistake in the test, not a condition to handle.
func (i *Issuer) Mint(claims map[string]any, opts ...MintOption) string {
	now := i.now()
	payload := map[string]any{
		"iss": i.URL(),
		"iat": now.Unix(),
		"exp": now.Add(i.lifetime).Unix(),
	}
	for k, v := range claims {
		if v == nil {
			delete(payload, k)
		} else {
			payload[k] = v
		}
	}
	c := mintOptions(opts)
	header := map[string]any{"alg": c.alg, "typ": "JWT"}
	switch {
	case c.kid != nil:
		if *c.kid != "" {
			header["kid"] = *c.kid
		}
	case c.secret == nil:
		header["kid"] = i.key(c.alg).kid
	}
	for k, v := range c.header {
		if v == nil {
			delete(header, k)
		} else {
			header[k] = v
		}
	}
	hb, err := json.Marshal(header)
	if err != nil {
		panic("authtest: header: " + err.Error())
	}
	pb, err := json.Marshal(payload)
	if err != nil {
		panic("authtest: claims: " + err.Error())
	}
	return i.sign(hb, pb, c)
}

// Sign returns a compact JWS made of exactly header and payload, each
// base64url-encoded as given, signed with the key WithAlg selects (RS256 by
// default) or WithHMACSecret. The header bytes are not inspected: Sign is for
// building tokens no honest issuer would, such as duplicate members or a
// header whose alg disagrees with the signature. WithKID and WithHeader have
// no effect here.
func (i *Issuer) Sign(header, payload []byte, opts ...MintOption) string {
	return i.sign(header, payload, mintOptions(opts))
}

func mintOptions(opts []MintOption) *mintConfig {
	c := &mintConfig{}
	for _, o := range opts {
		o(c)
	}
	if c.alg == "" {
		c.alg = RS256
		if c.secret != nil {
			c.alg = "HS256"
		}
	}
	return c
}

var b64 = base64.RawURLEncoding

func (i *Issuer) sign(header, payload []byte, c *mintConfig) string {
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	sig, err := i.signature(c, []byte(input))
	if err != nil {
		panic("authtest: sign: " + err.Error())
	}
	return input + "." + b64.EncodeToString(sig)
}

func (i *Issuer) signature(c *mintConfig, input []byte) ([]byte, error) {
	if c.secret != nil {
		var h func() hash.Hash
		switch c.alg {
		case "HS256":
			h = sha256.New
		case "HS384":
			h = sha512.New384
		case "HS512":
			h = sha512.New
		default:
			return nil, fmt.Errorf("alg %q with an HMAC secret", c.alg)
		}
		m := hmac.New(h, c.secret)
		m.Write(input)
		return m.Sum(nil), nil
	}
	hashOf := func(h crypto.Hash) []byte {
		d := h.New()
		d.Write(input)
		return d.Sum(nil)
	}
	switch c.alg {
	case "HS256", "HS384", "HS512":
		return nil, fmt.Errorf("alg %s needs WithHMACSecret", c.alg)
	case ES256:
		priv := i.key(ES256).priv.(*ecdsa.PrivateKey)
		r, s, err := ecdsa.Sign(rand.Reader, priv, hashOf(crypto.SHA256))
		if err != nil {
			return nil, err
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig, nil
	case EdDSA:
		return ed25519.Sign(i.key(EdDSA).priv.(ed25519.PrivateKey), input), nil
	}
	priv := i.key(RS256).priv.(*rsa.PrivateKey)
	switch c.alg {
	case "RS384":
		return rsa.SignPKCS1v15(nil, priv, crypto.SHA384, hashOf(crypto.SHA384))
	case "RS512":
		return rsa.SignPKCS1v15(nil, priv, crypto.SHA512, hashOf(crypto.SHA512))
	case "PS256", "PS384", "PS512":
		h := map[string]crypto.Hash{"PS256": crypto.SHA256, "PS384": crypto.SHA384, "PS512": crypto.SHA512}[c.alg]
		return rsa.SignPSS(rand.Reader, priv, h, hashOf(h), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	default:
		return rsa.SignPKCS1v15(nil, priv, crypto.SHA256, hashOf(crypto.SHA256))
	}
}

// key returns the current key for alg: the P-256 key for ES256, the Ed25519
// key for EdDSA, and the RSA key for anything else.
func (i *Issuer) key(alg string) *signingKey {
	fam := RS256
	if alg == ES256 || alg == EdDSA {
		fam = alg
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.keys[fam]
}

func generateKeys() (map[string]*signingKey, error) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating RSA key: %w", err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating P-256 key: %w", err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating Ed25519 key: %w", err)
	}
	keys := map[string]*signingKey{
		RS256: {kid: newKID("rsa"), priv: rsaKey},
		ES256: {kid: newKID("ec"), priv: ecKey},
		EdDSA: {kid: newKID("ed"), priv: edKey},
	}
	keys[RS256].jwk = map[string]any{
		"kty": "RSA", "use": "sig", "alg": RS256, "kid": keys[RS256].kid,
		"n": b64.EncodeToString(rsaKey.N.Bytes()),
		"e": b64.EncodeToString(big.NewInt(int64(rsaKey.E)).Bytes()),
	}
	ecPub, err := ecKey.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, fmt.Errorf("encoding P-256 key: %w", err)
	}
	keys[ES256].jwk = map[string]any{
		"kty": "EC", "use": "sig", "alg": ES256, "kid": keys[ES256].kid, "crv": "P-256",
		"x": b64.EncodeToString(ecPub[1:33]),
		"y": b64.EncodeToString(ecPub[33:]),
	}
	keys[EdDSA].jwk = map[string]any{
		"kty": "OKP", "use": "sig", "alg": EdDSA, "kid": keys[EdDSA].kid, "crv": "Ed25519",
		"x": b64.EncodeToString(edKey.Public().(ed25519.PublicKey)),
	}
	return keys, nil
}

func newKID(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}
