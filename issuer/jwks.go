package issuer

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"math/big"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/jwt"
)

// jwk is one public JSON Web Key (RFC 7517, RFC 7518 §6, RFC 8037).
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
}

func publicJWK(k jwt.StaticKey) (jwk, bool) {
	j := jwk{Use: "sig", Kid: k.ID, Alg: k.Algorithm}
	switch pub := k.Public.(type) {
	case *ecdsa.PublicKey:
		b, err := pub.Bytes() // 0x04 || X || Y
		if err != nil || pub.Curve.Params().Name != "P-256" {
			return j, false
		}
		j.Kty, j.Crv = "EC", "P-256"
		j.X, j.Y = b64.EncodeToString(b[1:33]), b64.EncodeToString(b[33:])
	case ed25519.PublicKey:
		j.Kty, j.Crv, j.X = "OKP", "Ed25519", b64.EncodeToString(pub)
	case *rsa.PublicKey:
		j.Kty, j.N = "RSA", b64.EncodeToString(pub.N.Bytes())
		j.E = b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
	default:
		return j, false
	}
	return j, true
}

// JWKS returns the public keys of keys as a JSON Web Key Set: each with
// its kid, its alg and "use": "sig", and never any private material.
func JWKS(keys jwt.KeySource) []byte {
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for _, k := range keys.PublicKeys() {
		if j, ok := publicJWK(k); ok {
			set.Keys = append(set.Keys, j)
		}
	}
	b, _ := json.Marshal(set) // strings only: cannot fail
	return b
}

// NewJWKSHandler serves the JSON Web Key Set of keys (for a KeyRing: every
// key it publishes) to GET and HEAD, with Cache-Control "public,
// max-age=N" where N is maxAge in seconds, and a strong ETag, so that a
// verifier revalidating with If-None-Match gets 304 Not Modified. For a
// KeyRing pass ring.CacheMaxAge(), its PublishAhead: a verifier honouring
// the max-age then holds every new key before it signs. Other methods get
// 405 in the request's error format.
//
// The body is built once per key version and served from memory.
func NewJWKSHandler(keys jwt.KeySource, maxAge time.Duration) http.Handler {
	return &jwksHandler{keys: keys, cacheControl: "public, max-age=" + strconv.FormatInt(int64(maxAge/time.Second), 10)}
}

type jwksHandler struct {
	keys         jwt.KeySource
	cacheControl string
	mu           sync.Mutex
	cur          atomic.Pointer[jwksBody]
}

type jwksBody struct {
	version uint64
	body    []byte
	etag    string
}

var methodNotAllowed = errors.MethodNotAllowed(http.MethodGet, http.MethodHead)

func (h *jwksHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed.ServeHTTP(w, r)
		return
	}
	b := h.body()
	hd := w.Header()
	hd.Set("Content-Type", "application/jwk-set+json")
	hd.Set("Cache-Control", h.cacheControl)
	hd.Set("ETag", b.etag)
	if r.Header.Get("If-None-Match") == b.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Length", strconv.Itoa(len(b.body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b.body)
}

func (h *jwksHandler) body() *jwksBody {
	v := h.keys.KeysVersion()
	if b := h.cur.Load(); b != nil && b.version == v {
		return b
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if b := h.cur.Load(); b != nil && b.version == v {
		return b
	}
	body := JWKS(h.keys)
	sum := sha256.Sum256(body)
	b := &jwksBody{version: v, body: body, etag: `"` + b64.EncodeToString(sum[:16]) + `"`}
	h.cur.Store(b)
	return b
}
