package jose

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	stderrors "errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tollgate/tollgate/internal/jose/josetest"
)

// FuzzDecodeObject holds DecodeObject to an independent reference: what it
// accepts is valid UTF-8, repeats no name at any depth (josetest.Duplicate)
// and decodes to the same value once encoded again; what it refuses as a
// duplicate is one.
func FuzzDecodeObject(f *testing.F) {
	for _, p := range josetest.Parts() {
		f.Add(p)
	}
	for _, s := range []string{
		`{}`, `{"a":{"b":[{"c":1,"c":2}]}}`, `{"a":1,"\u0061":2}`, `{"s":"\ud83d\ude00"}`,
		`{"s":"\ud800"}`, `{"s":"\\ud800"}`, "{\"s\":\"\xff\"}", `{"a":"x:y","b":"\"c\":1"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeObject(b)
		dup := json.Valid(b) && josetest.Duplicate(b)
		switch {
		case err == nil:
			if !utf8.Valid(b) {
				t.Fatalf("accepted invalid UTF-8: %q", b)
			}
			if dup {
				t.Fatalf("accepted a repeated name: %q", b)
			}
			again, err := json.Marshal(m)
			if err != nil {
				t.Fatalf("accepted %q, which does not encode again: %v", b, err)
			}
			m2, err := DecodeObject(again)
			if err != nil || !reflect.DeepEqual(m, m2) {
				t.Fatalf("accepted %q, which reads otherwise once encoded again (%q, %v)", b, again, err)
			}
		case stderrors.Is(err, ErrDuplicate):
			if !dup {
				t.Fatalf("refused %q as a duplicate, and it is none", b)
			}
		case stderrors.Is(err, ErrEncoding):
			if utf8.Valid(b) && !bytes.Contains(b, []byte(`\u`)) && !bytes.Contains(b, []byte(`\U`)) {
				t.Fatalf("refused valid UTF-8 without escapes as badly encoded: %q", b)
			}
		}
		if dup && err == nil {
			t.Fatalf("a repeated name passed: %q", b)
		}
	})
}

// FuzzClassify checks that Classify never panics, that a CompactJWS is its
// own one spelling, and that Canonicalize maps every spelling of a JOSE
// object to one form that reads as the same bytes.
func FuzzClassify(f *testing.F) {
	for _, v := range josetest.Vectors() {
		f.Add(v)
		for variant := range uint8(16) {
			f.Add(josetest.Respell(v, variant*7))
		}
	}
	f.Add("mF_9.B5f-4.1JqM")
	f.Add("a.b.c.d")
	f.Fuzz(func(t *testing.T, token string) {
		shape := Classify(token)
		c := Canonicalize(token)
		if Canonicalize(c) != c {
			t.Fatalf("Canonicalize is not idempotent on %q: %q, then %q", token, c, Canonicalize(c))
		}
		switch shape {
		case CompactJWS, CompactJWE:
			if c != token {
				t.Fatalf("Canonicalize changed the canonical %q", token)
			}
			for _, p := range strings.Split(token, ".") {
				raw, err := base64.RawURLEncoding.Strict().DecodeString(p)
				if err != nil || base64.RawURLEncoding.EncodeToString(raw) != p {
					t.Fatalf("%q is called canonical but its part %q is not (%v)", token, p, err)
				}
			}
			if shape == CompactJWS && strings.Count(token, ".") != 2 {
				t.Fatalf("%q is called a JWS", token)
			}
		case Opaque:
			if c != token {
				t.Fatalf("Canonicalize changed the opaque %q", token)
			}
		case NotCanonical:
			if Classify(c) == Opaque {
				t.Fatalf("%q lost its JOSE shape in canonical form %q", token, c)
			}
			if !reflect.DeepEqual(josetest.LaxParts(token), josetest.LaxParts(c)) {
				t.Fatalf("%q and its canonical form %q read as different bytes", token, c)
			}
		}
	})
}
