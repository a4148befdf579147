package apikey

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"log/slog"
	"runtime"
	"strings"
	"sync"
)

const redacted = "[REDACTED]"

// Secret is a plaintext API key, as Create and Rotate return it once. Its
// String, GoString, LogValue and JSON and text encodings are "[REDACTED]",
// so a stray %v, log line or json.Marshal cannot print it; Reveal returns
// the token, for the one response that hands it to its owner.
type Secret struct{ token string }

// Reveal returns the plaintext token.
func (s Secret) Reveal() string { return s.token }

// String returns "[REDACTED]".
func (s Secret) String() string { return redacted }

// GoString returns "[REDACTED]", for %#v.
func (s Secret) GoString() string { return redacted }

// LogValue returns "[REDACTED]", for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON returns "[REDACTED]" as a JSON string: a token is put in a
// response body on purpose, with Reveal.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns "[REDACTED]".
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Digest is the keyed hash of a token, HMAC-SHA-256 under one pepper: all
// a store keeps of a token. It is a comparable array, so it keys maps
// without allocating.
type Digest [sha256.Size]byte

// MinPepperBytes is the shortest pepper accepted: the size of the hash.
const MinPepperBytes = 32

// Pepper is a server-side HMAC key, kept in configuration (an environment
// variable, a secret manager), never in the store: a copy of the database
// alone does not let anyone test a guess at a token. Its ID is stored
// beside each hash, so an operator can tell when no key needs an old pepper
// any more. Its String and LogValue redact the key.
type Pepper struct {
	id  string
	key []byte
}

// NewPepper returns a pepper named id (1 to 32 printable ASCII characters,
// no ',' or ':') with the given key, at least MinPepperBytes long. The key
// is copied.
func NewPepper(id string, key []byte) (Pepper, error) {
	if id == "" || len(id) > 32 {
		return Pepper{}, fmt.Errorf("apikey: pepper id %q: 1 to 32 characters", id)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' || c == ',' || c == ':' {
			return Pepper{}, fmt.Errorf("apikey: pepper id %q: printable ASCII without ',' or ':'", id)
		}
	}
	if len(key) < MinPepperBytes {
		return Pepper{}, fmt.Errorf("apikey: pepper %q: %d bytes, at least %d required", id, len(key), MinPepperBytes)
	}
	return Pepper{id: id, key: append([]byte(nil), key...)}, nil
}

// ParsePeppers reads peppers from configuration text: comma-separated
// "id:key" pairs, newest first, each key in base64 (standard or URL
// alphabet, padded or not) of at least MinPepperBytes bytes:
//
//	APIKEY_PEPPERS="p2:qL3…Zw,p1:8dN…Q0"
//
// New tokens are hashed with the first; tokens hashed with the others are
// still accepted.
func ParsePeppers(s string) ([]Pepper, error) {
	var out []Pepper
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		id, enc, ok := strings.Cut(item, ":")
		if !ok {
			return nil, fmt.Errorf("apikey: pepper entry without \"id:\"")
		}
		key, err := decodeBase64(enc)
		if err != nil {
			return nil, fmt.Errorf("apikey: pepper %q: key is not base64", id)
		}
		p, err := NewPepper(id, key)
		if err != nil {
			return nil, err
		}
		for _, q := range out {
			if q.id == id {
				return nil, fmt.Errorf("apikey: pepper %q given twice", id)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// ID is the pepper's name, stored beside each hash made with it.
func (p Pepper) ID() string { return p.id }

// String names the pepper and redacts its key.
func (p Pepper) String() string { return "apikey.Pepper(" + p.id + ", " + redacted + ")" }

// GoString is String, for %#v.
func (p Pepper) GoString() string { return p.String() }

// LogValue names the pepper and redacts its key.
func (p Pepper) LogValue() slog.Value { return slog.StringValue(p.String()) }

// hasher computes a token's digests under every pepper. Its HMAC states
// are made once and reused, so hashing a token allocates nothing: a
// request takes the first free one of a fixed set of slots (several per
// CPU), starting from a slot picked by the token's random characters. A
// sync.Pool would do the same in production, but drops items at random
// under the race detector, which would hide an allocation regression.
type hasher struct {
	peppers []Pepper
	slots   []macSlot
}

type macSlot struct {
	mu sync.Mutex
	st *macState
	_  [40]byte // one slot per cache line
}

type macState struct {
	macs []hash.Hash // one per pepper, in the same order
	buf  []byte      // the token, copied: hash.Hash.Write wants a []byte
	sum  [sha256.Size]byte
}

func newHasher(peppers []Pepper) *hasher {
	h := &hasher{peppers: peppers, slots: make([]macSlot, max(16, 4*runtime.GOMAXPROCS(0)))}
	for i := range h.slots {
		h.slots[i].st = h.newState()
	}
	return h
}

func (h *hasher) newState() *macState {
	st := &macState{buf: make([]byte, 0, 128)}
	for _, p := range h.peppers {
		st.macs = append(st.macs, hmac.New(sha256.New, p.key))
	}
	return st
}

// digest is token's HMAC under pepper i.
func (h *hasher) digest(token string, i int) Digest {
	start := 0
	if n := len(token); n > 16 {
		start = int(token[n-12]) + int(token[n-13])<<8
	}
	for j := range h.slots {
		s := &h.slots[(start+j)%len(h.slots)]
		if s.mu.TryLock() {
			d := s.st.digest(token, i)
			s.mu.Unlock()
			return d
		}
	}
	return h.newState().digest(token, i) // every slot busy: more goroutines hashing than slots
}

func (st *macState) digest(token string, i int) Digest {
	st.buf = append(st.buf[:0], token...)
	m := st.macs[i]
	m.Reset()
	m.Write(st.buf)
	m.Sum(st.sum[:0])
	clear(st.buf)
	return Digest(st.sum)
}

// all returns token's digest under every pepper, newest first.
func (h *hasher) all(token string) []Digest {
	out := make([]Digest, len(h.peppers))
	for i := range h.peppers {
		out[i] = h.digest(token, i)
	}
	return out
}
