// Package josetest holds what the tests and fuzz targets of tollgate's JOSE
// decoders share: seed tokens from the RFCs and Project Wycheproof, the
// other spellings of a token, and reference checks written independently of
// the code they judge. Only tests import it.
package josetest

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"strings"
)

//go:embed testdata/jws_vectors.txt
var vectors string

// Vectors returns the seed tokens of testdata/jws_vectors.txt: the examples
// of RFC 7515, 7516 and 8037, and Wycheproof's JWS test vectors (RFC 7520
// among them), valid and invalid.
func Vectors() []string {
	var out []string
	for _, line := range strings.Split(vectors, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

// Parts returns the decoded parts of each compact vector that are JSON
// objects: seed headers and claims.
func Parts() [][]byte {
	var out [][]byte
	for _, v := range Vectors() {
		for _, p := range strings.Split(v, ".") {
			if b, err := base64.RawURLEncoding.DecodeString(p); err == nil && json.Valid(b) && bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
				out = append(out, b)
			}
		}
	}
	return out
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// Respell returns another spelling of token under the base64 variants lax
// decoders accept, chosen by variant: the bytes a lax decoder reads stay the
// same. It returns token itself when the chosen change does not apply.
func Respell(token string, variant uint8) string {
	parts := strings.Split(token, ".")
	k := int(variant>>3) % len(parts)
	switch variant & 7 {
	case 0:
		return token + "="
	case 1:
		return strings.NewReplacer("-", "+", "_", "/").Replace(token)
	case 2:
		parts[k] += "=="
	case 3: // a trailing bit the data does not use
		p := parts[k]
		if len(p)%4 == 0 || len(p)%4 == 1 {
			return token
		}
		i := strings.IndexByte(alphabet, p[len(p)-1])
		if i < 0 {
			return token
		}
		parts[k] = p[:len(p)-1] + string(alphabet[i|1])
	case 4:
		parts[k] = "~" + parts[k]
	case 5:
		p := parts[k]
		parts[k] = p[:len(p)/2] + "~" + p[len(p)/2:]
	default:
		return token
	}
	return strings.Join(parts, ".")
}

// Duplicate reports whether the JSON text b repeats a member name, once
// unescaped, in any object at any depth. It walks encoding/json's token
// stream with a set of names per object, so it shares nothing with the
// counting check it is compared with. Text that is not JSON reports false.
func Duplicate(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	var walk func() (bool, error)
	walk = func() (bool, error) {
		t, err := dec.Token()
		if err != nil {
			return false, err
		}
		switch t {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				name, err := dec.Token()
				if err != nil {
					return false, err
				}
				s, _ := name.(string)
				if seen[s] {
					return true, nil
				}
				seen[s] = true
				if dup, err := walk(); dup || err != nil {
					return dup, err
				}
			}
			_, err = dec.Token()
		case json.Delim('['):
			for dec.More() {
				if dup, err := walk(); dup || err != nil {
					return dup, err
				}
			}
			_, err = dec.Token()
		}
		return false, err
	}
	dup, _ := walk()
	return dup
}

// LaxParts decodes each dot-separated part of token as the laxest base64
// decoder would (both alphabets, anything else skipped, trailing bits
// dropped), written apart from the package under test.
func LaxParts(token string) [][]byte {
	var out [][]byte
	for _, p := range strings.Split(token, ".") {
		var clean strings.Builder
		for _, c := range []byte(p) {
			switch {
			case c == '+':
				clean.WriteByte('-')
			case c == '/':
				clean.WriteByte('_')
			case strings.IndexByte(alphabet, c) >= 0:
				clean.WriteByte(c)
			}
		}
		s := clean.String()
		if len(s)%4 == 1 {
			s = s[:len(s)-1]
		}
		b, _ := base64.RawURLEncoding.DecodeString(s)
		out = append(out, b)
	}
	return out
}
