package jose

import (
	"encoding/json"
	stderrors "errors"
	"fmt"
	"unicode/utf8"
)

// The reasons DecodeObject refuses a JSON text.
var (
	// ErrSyntax is a text that is not JSON.
	ErrSyntax = stderrors.New("not JSON")
	// ErrNotObject is JSON that is not an object.
	ErrNotObject = stderrors.New("not a JSON object")
	// ErrEncoding is a string that is not valid UTF-8, or an escape that
	// decodes to no character (a lone surrogate such as \ud800).
	ErrEncoding = stderrors.New("JSON text not valid UTF-8")
	// ErrDuplicate is an object, at any depth, with two members of one
	// name once unescaped ("a" and "\u0061" are one name).
	ErrDuplicate = stderrors.New("duplicate JSON member name")
)

// DecodeObject decodes b, which must be one JSON object, into a map, and
// refuses what encoding/json would silently repair or resolve, so that two
// different byte strings never decode to the same value:
//
//   - invalid UTF-8 anywhere (RFC 8259 §8.1, RFC 7519 §7.2), which
//     encoding/json turns into U+FFFD, so that "admin\xff" and "admin\xfe"
//     would read alike;
//   - a \u escape of a lone surrogate (\ud800 not followed by a low
//     surrogate, or a low surrogate alone), which encoding/json also turns
//     into U+FFFD: it stands for no character, so it can be no valid UTF-8
//     once decoded, and is refused like invalid UTF-8;
//   - a member name repeated in any object, at any depth, whether spelled
//     alike or only equal once unescaped; encoding/json keeps the last.
//
// The checks cost one pass over b after the decoding: every member of valid
// JSON has one ':' outside strings, and a map holds one entry per distinct
// name, so b repeats a name somewhere exactly when it has more members than
// the decoded maps have entries.
func DecodeObject(b []byte) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		if i := skipSpace(b, 0); i < len(b) && b[i] != '{' && json.Valid(b) {
			return nil, ErrNotObject
		}
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	if m == nil {
		return nil, ErrNotObject
	}
	members, err := scan(b)
	if err != nil {
		return nil, err
	}
	if members != entries(m) {
		return nil, ErrDuplicate
	}
	return m, nil
}

// scan checks the strings of the valid JSON text b for invalid UTF-8 and
// lone surrogate escapes, and counts its object members (its ':' outside
// strings), in one pass without allocating.
func scan(b []byte) (members int, err error) {
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !inString {
			switch c {
			case '"':
				inString = true
			case ':':
				members++
			}
			continue
		}
		switch {
		case c == '"':
			inString = false
		case c == '\\':
			i++
			if b[i] != 'u' {
				continue
			}
			r := hex4(b[i+1:])
			i += 4
			switch {
			case r >= 0xdc00 && r <= 0xdfff:
				return 0, ErrEncoding
			case r >= 0xd800 && r <= 0xdbff:
				if i+6 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' {
					return 0, ErrEncoding
				}
				if lo := hex4(b[i+3:]); lo < 0xdc00 || lo > 0xdfff {
					return 0, ErrEncoding
				}
				i += 6
			}
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return 0, ErrEncoding
			}
			i += size - 1
		}
	}
	return members, nil
}

// hex4 is the value of the four hex digits that valid JSON puts after \u.
func hex4(b []byte) rune {
	var r rune
	for _, h := range b[:4] {
		r = r<<4 | rune(hexValue(h))
	}
	return r
}

// entries counts the entries of every map in v, v itself included.
func entries(v any) int {
	switch v := v.(type) {
	case map[string]any:
		n := len(v)
		for _, e := range v {
			n += entries(e)
		}
		return n
	case []any:
		n := 0
		for _, e := range v {
			n += entries(e)
		}
		return n
	}
	return 0
}
