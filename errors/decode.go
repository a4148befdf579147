package errors

import (
	"bytes"
	"encoding/json"
	stderrors "errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultMaxJSONBytes is the body size DecodeJSON accepts when given no
// limit: 1 MiB.
const DefaultMaxJSONBytes = 1 << 20

// DecodeJSON decodes the JSON body of r into dst, or writes the refusal in
// the request's format (see Use) and returns it; the handler then returns
// too:
//
//	var body createOrder
//	if err := errors.DecodeJSON(w, r, &body, 64<<10); err != nil {
//		return // already answered: 400, 413 or 415 in the API's format
//	}
//
// What is refused, before dst is filled:
//
//   - a Content-Type that is not application/json or a +json type, or a
//     charset other than UTF-8, or a Content-Encoding (compressed bodies are
//     not read): unsupported_media_type (415), with Accept:
//     application/json (RFC 9110 §15.5.16);
//   - a body over maxBytes (DefaultMaxJSONBytes when maxBytes <= 0), by its
//     Content-Length before anything is read, or as it is read:
//     payload_too_large (413);
//   - an empty body, invalid JSON (trailing data and a second value
//     included), invalid UTF-8, or a member given twice in one object
//     (names that differ only in case count, since encoding/json would put
//     both in one field, and two parsers could read different values):
//     syntax (400);
//   - a member dst has no field for, or a value of the wrong type:
//     validation (400).
//
// Then, if dst has a method Validate() error, it is called: an *Error it
// returns (or wraps) is written as it is, so a check picks its kind and
// message (errors.New(errors.Validation, "quantity must be positive")); any
// other error is written as validation (400) with a generic message, its
// text kept in Err for logs, since it may quote the input.
//
// Nothing of the body reaches the response: the messages are fixed
// sentences, and a wrong type names the field by dst's own JSON names
// (`The field "items.qty" has the wrong type`), never by a map key or a
// member the client made up. A dst that is not a non-nil pointer is the
// program's mistake and answered with internal (500); garbage never is.
func DecodeJSON(w http.ResponseWriter, r *http.Request, dst any, maxBytes int64) error {
	e := decodeJSON(w, r, dst, maxBytes)
	if e == nil {
		return nil
	}
	if e.Kind == UnsupportedMediaType && r.Header.Get("Content-Encoding") == "" {
		w.Header().Set("Accept", "application/json")
	}
	Write(w, r, e)
	return e
}

var (
	errNotJSON      = New(UnsupportedMediaType, "The request body must be JSON (Content-Type: application/json)")
	errEncodedBody  = New(UnsupportedMediaType, "The request body must not be encoded (Content-Encoding)")
	errEmptyBody    = New(Syntax, "The request body is empty")
	errBadJSON      = New(Syntax, "The request body is not valid JSON")
	errBadUTF8      = New(Syntax, "The request body is not valid UTF-8")
	errDuplicate    = New(Syntax, "The request body has a member twice")
	errUnknownField = New(Validation, "The request body has a field this API does not accept")
	errBadValue     = New(Validation, "A field of the request body has a value this API cannot read")
)

func decodeJSON(w http.ResponseWriter, r *http.Request, dst any, maxBytes int64) *Error {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxJSONBytes
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return errEncodedBody
	}
	if !isJSONMediaType(r.Header.Get("Content-Type")) {
		return errNotJSON
	}
	tooLarge := func() *Error {
		return New(PayloadTooLarge, "The request body is larger than "+strconv.FormatInt(maxBytes, 10)+" bytes")
	}
	if r.ContentLength > maxBytes {
		return tooLarge()
	}
	if r.Body == nil {
		return errEmptyBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if stderrors.As(err, &tooBig) {
			return tooLarge()
		}
		return Wrap(Syntax, "The request body could not be read", err)
	}
	switch {
	case len(bytes.TrimSpace(body)) == 0:
		return errEmptyBody
	case !utf8.Valid(body):
		return errBadUTF8
	case !json.Valid(body):
		return errBadJSON
	case hasDuplicateMember(body):
		return errDuplicate
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(reflect.TypeOf(dst), err)
	}
	if v, ok := dst.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			var e *Error
			if stderrors.As(err, &e) {
				return e
			}
			return Wrap(Validation, "", err)
		}
	}
	return nil
}

// isJSONMediaType reports whether a Content-Type is JSON in UTF-8:
// application/json or a structured +json type (RFC 6839), with no charset
// or a UTF-8 one.
func isJSONMediaType(contentType string) bool {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/json" && !(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8")
}

// decodeError turns what encoding/json refused in a valid JSON body into a
// refusal that says no more than dst's own field names.
func decodeError(t reflect.Type, err error) *Error {
	var typeErr *json.UnmarshalTypeError
	var invalid *json.InvalidUnmarshalError
	switch {
	case stderrors.As(err, &invalid):
		return Wrap(Internal, "", err)
	case stderrors.As(err, &typeErr):
		if typeErr.Field == "" {
			return Wrap(Validation, "The request body has the wrong type", err)
		}
		if path := knownFieldPath(t, typeErr.Field); path != "" {
			return Wrap(Validation, `The field "`+path+`" has the wrong type`, err)
		}
		return Wrap(Validation, "A field of the request body has the wrong type", err)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no type for it; its text quotes the client's
		// member, which is not written.
		return &Error{Kind: Validation, Message: errUnknownField.Message, Err: err}
	}
	// A field's own UnmarshalJSON refused the value (a time, an enum);
	// its text may quote the value.
	return &Error{Kind: Validation, Message: errBadValue.Message, Err: err}
}

// knownFieldPath returns the part of an encoding/json field path that
// names fields of t by their JSON names: segments naming an embedded
// struct by its Go name are walked through and left out, slice and array
// indexes skipped, and the walk stops at a map (its keys are the client's)
// or at anything t does not have.
func knownFieldPath(t reflect.Type, path string) string {
	var known []string
	for seg := range strings.SplitSeq(path, ".") {
		for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			t = t.Elem()
		}
		if t == nil || t.Kind() != reflect.Struct {
			break
		}
		if isIndex(seg) {
			continue
		}
		f, jsonName, ok := fieldNamed(t, seg, 0)
		if !ok {
			break
		}
		if jsonName {
			known = append(known, seg)
		}
		t = f.Type
	}
	return strings.Join(known, ".")
}

// maxEmbedDepth is how deep fieldNamed looks into embedded structs.
const maxEmbedDepth = 8

func isIndex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// fieldNamed finds the field of struct t that encoding/json names seg in a
// field path: an exported field by its JSON name (jsonName true), a field
// promoted from an embedded struct the same way, or an embedded struct by
// its Go name (which the standard decoder puts in its paths). depth bounds
// the search through embedded structs, which may embed themselves.
func fieldNamed(t reflect.Type, seg string, depth int) (f reflect.StructField, jsonName, ok bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			if f.Name == seg {
				return f, false, true
			}
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct && depth < maxEmbedDepth {
				if pf, jsonName, ok := fieldNamed(et, seg, depth+1); ok && jsonName {
					return pf, true, true
				}
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if name == seg {
			return f, true, true
		}
	}
	return reflect.StructField{}, false, false
}

// hasDuplicateMember reports whether an object of the valid JSON body has
// a member name twice, names that differ only in case included (as
// encoding/json matches fields).
func hasDuplicateMember(body []byte) bool {
	type frame struct {
		object    bool
		expectKey bool
		names     map[string]struct{}
	}
	var stack []*frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].expectKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return false // io.EOF: the body was checked valid before
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].expectKey {
			top := stack[n-1]
			if tok == json.Delim('}') {
				stack = stack[:n-1]
				valueDone()
				continue
			}
			name := foldName(tok.(string))
			if _, seen := top.names[name]; seen {
				return true
			}
			if top.names == nil {
				top.names = make(map[string]struct{})
			}
			top.names[name] = struct{}{}
			top.expectKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, expectKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

// foldName maps s to one representative of the names strings.EqualFold
// holds equal to it: each rune becomes the smallest of its case-folding
// orbit.
func foldName(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b.WriteRune(min)
	}
	return b.String()
}
