package errors_test

import (
	"encoding/json"
	stderrors "errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	tgerrors "github.com/tollgate/tollgate/errors"
)

// order is a request body with the shapes an API's bodies have: nested
// structs, slices, maps, an embedded struct, a custom decoder, and a field
// check.
type order struct {
	Meta
	Customer string            `json:"customer"`
	Items    []item            `json:"items"`
	Shipping *address          `json:"shipping,omitempty"`
	Labels   map[string]int    `json:"labels,omitempty"`
	Due      time.Time         `json:"due,omitzero"`
	Extra    map[string]string `json:"-"`
}

type Meta struct {
	Ref string `json:"ref"`
}

type item struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

type address struct {
	Zip int `json:"zip"`
}

func (o *order) Validate() error {
	switch {
	case o.Customer == "reject-plain":
		return stderrors.New("customer " + o.Customer + " is blocked") // never written
	case o.Customer == "reject-typed":
		return tgerrors.New(tgerrors.Unprocessable, "The customer may not order")
	case o.Customer == "":
		return tgerrors.New(tgerrors.Validation, "customer is required")
	}
	return nil
}

// decode serves body through DecodeJSON below Use(Envelope) and returns the
// response and whether the handler went on.
func decode(t *testing.T, contentType, body string, header map[string]string) (*httptest.ResponseRecorder, bool) {
	t.Helper()
	var decoded bool
	h := tgerrors.Use(tgerrors.Envelope)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var o order
		if err := tgerrors.DecodeJSON(w, r, &o, 256); err != nil {
			if tgerrors.KindOf(err) == "" {
				t.Errorf("DecodeJSON returned %v, not an *Error", err)
			}
			return
		}
		decoded = true
		w.WriteHeader(http.StatusCreated)
	}))
	req := httptest.NewRequest("POST", "/orders", strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec, decoded
}

type envelopeBody struct {
	Error struct{ Name, Code, Message string }
}

func TestDecodeJSON(t *testing.T) {
	const (
		syntax     = "SyntaxError"
		validation = "ValidationException"
	)
	tests := []struct {
		name        string
		contentType string
		body        string
		header      map[string]string
		status      int
		errName     string
		message     string
	}{
		{"a valid body is decoded", "application/json", `{"customer":"c1","items":[{"sku":"a","qty":2}]}`, nil, 201, "", ""},
		{"charset utf-8 and a +json type are JSON", "application/merge-patch+json; charset=UTF-8", `{"customer":"c1"}`, nil, 201, "", ""},
		{"whitespace around the value is fine", "application/json", " \n{\"customer\":\"c1\"}\n ", nil, 201, "", ""},

		{"no Content-Type is 415", "", `{"customer":"c1"}`, nil, 415, "UnsupportedMediaTypeError", "The request body must be JSON (Content-Type: application/json)"},
		{"a form is 415", "application/x-www-form-urlencoded", `customer=c1`, nil, 415, "UnsupportedMediaTypeError", "The request body must be JSON (Content-Type: application/json)"},
		{"text/plain holding JSON is 415", "text/plain", `{"customer":"c1"}`, nil, 415, "UnsupportedMediaTypeError", "The request body must be JSON (Content-Type: application/json)"},
		{"another charset is 415", "application/json; charset=latin1", `{"customer":"c1"}`, nil, 415, "UnsupportedMediaTypeError", "The request body must be JSON (Content-Type: application/json)"},
		{"a malformed Content-Type is 415", "application/json; ===", `{"customer":"c1"}`, nil, 415, "UnsupportedMediaTypeError", "The request body must be JSON (Content-Type: application/json)"},
		{"a compressed body is 415", "application/json", `{"customer":"c1"}`, map[string]string{"Content-Encoding": "gzip"}, 415, "UnsupportedMediaTypeError", "The request body must not be encoded (Content-Encoding)"},

		{"a body over the limit is 413", "application/json", `{"customer":"` + strings.Repeat("x", 300) + `"}`, nil, 413, "PayloadTooLargeError", "The request body is larger than 256 bytes"},

		{"an empty body is syntax", "application/json", ``, nil, 400, syntax, "The request body is empty"},
		{"a form body labelled JSON is syntax", "application/json", `customer=c1`, nil, 400, syntax, "The request body is not valid JSON"},
		{"truncated JSON is syntax", "application/json", `{"customer":"c1"`, nil, 400, syntax, "The request body is not valid JSON"},
		{"two values are syntax", "application/json", `{"customer":"c1"} {"customer":"c2"}`, nil, 400, syntax, "The request body is not valid JSON"},
		{"trailing garbage is syntax", "application/json", `{"customer":"c1"}<script>`, nil, 400, syntax, "The request body is not valid JSON"},
		{"invalid UTF-8 is syntax", "application/json", "{\"customer\":\"c\xff1\"}", nil, 400, syntax, "The request body is not valid UTF-8"},
		{"a member twice is syntax", "application/json", `{"customer":"c1","customer":"admin"}`, nil, 400, syntax, "The request body has a member twice"},
		{"a member twice in other case is syntax", "application/json", `{"customer":"c1","CUSTOMER":"admin"}`, nil, 400, syntax, "The request body has a member twice"},
		{"a member twice deep down is syntax", "application/json", `{"customer":"c1","items":[{"sku":"a","sku":"b"}]}`, nil, 400, syntax, "The request body has a member twice"},
		{"the same member in two objects is fine", "application/json", `{"customer":"c1","items":[{"sku":"a"},{"sku":"b"}]}`, nil, 201, "", ""},

		{"an unknown field is validation, unnamed", "application/json", `{"customer":"c1","<img src=x>":1}`, nil, 400, validation, "The request body has a field this API does not accept"},
		{"a wrong type is validation, naming the field", "application/json", `{"customer":7}`, nil, 400, validation, `The field "customer" has the wrong type`},
		{"a wrong type deep down names the path", "application/json", `{"customer":"c1","items":[{"qty":"many"}]}`, nil, 400, validation, `The field "items.qty" has the wrong type`},
		{"a nested pointer field is named", "application/json", `{"customer":"c1","shipping":{"zip":"x"}}`, nil, 400, validation, `The field "shipping.zip" has the wrong type`},
		{"a number too large for the field is validation", "application/json", `{"customer":"c1","items":[{"qty":1e400}]}`, nil, 400, validation, `The field "items.qty" has the wrong type`},
		{"a map key is never echoed", "application/json", `{"customer":"c1","labels":{"<b>evil</b>":"x"}}`, nil, 400, validation, `The field "labels" has the wrong type`},
		{"an embedded struct's field is named by its JSON name", "application/json", `{"customer":"c1","ref":5}`, nil, 400, validation, `The field "ref" has the wrong type`},
		{"a value its own decoder refuses is validation, unechoed", "application/json", `{"customer":"c1","due":"<script>not a time"}`, nil, 400, validation, "A field of the request body has a value this API cannot read"},
		{"a top-level array is validation", "application/json", `[1,2]`, nil, 400, validation, "The request body has the wrong type"},

		{"a failed check is validation, its message said", "application/json", `{"items":[]}`, nil, 400, validation, "customer is required"},
		{"a check's own kind is kept", "application/json", `{"customer":"reject-typed"}`, nil, 422, "UnprocessableEntityError", "The customer may not order"},
		{"a check's plain error is never written", "application/json", `{"customer":"reject-plain"}`, nil, 400, validation, "The request is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, decoded := decode(t, tt.contentType, tt.body, tt.header)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if decoded != (tt.status == 201) {
				t.Fatalf("the handler went on = %v with status %d", decoded, rec.Code)
			}
			if tt.status == 201 {
				return
			}
			var body envelopeBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if body.Error.Name != tt.errName || body.Error.Message != tt.message {
				t.Errorf("got %s %q, want %s %q", body.Error.Name, body.Error.Message, tt.errName, tt.message)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
			if tt.status == 415 && tt.header == nil && rec.Header().Get("Accept") != "application/json" {
				t.Errorf("a 415 without Accept: application/json (RFC 9110 §15.5.16): %q", rec.Header().Get("Accept"))
			}
		})
	}
}

// A Content-Length over the limit is refused before a byte is read.
func TestDecodeJSONRefusesADeclaredOversizeBodyUnread(t *testing.T) {
	body := &countingReader{r: strings.NewReader(`{"customer":"c1"}`)}
	req := httptest.NewRequest("POST", "/", body)
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = 1 << 30
	rec := httptest.NewRecorder()
	var o order
	err := tgerrors.DecodeJSON(rec, req, &o, 1024)
	if tgerrors.KindOf(err) != tgerrors.PayloadTooLarge || rec.Code != 413 {
		t.Errorf("got %v %d, want payload_too_large 413", err, rec.Code)
	}
	if body.n != 0 {
		t.Errorf("%d bytes read of a body declared too large", body.n)
	}
}

type countingReader struct {
	r interface{ Read([]byte) (int, error) }
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// A dst DecodeJSON cannot fill is the program's mistake, answered with
// internal (500), never a panic; the cause is for logs.
func TestDecodeJSONIntoANonPointerIsInternal(t *testing.T) {
	req := httptest.NewRequest("POST", "/", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	err := tgerrors.DecodeJSON(rec, req, order{}, 0)
	if tgerrors.KindOf(err) != tgerrors.Internal || rec.Code != 500 || strings.Contains(rec.Body.String(), "order") {
		t.Errorf("got %v %d %s, want internal 500 without the cause", err, rec.Code, rec.Body)
	}
}

// FuzzDecodeJSON: whatever the body, DecodeJSON answers with one of its
// refusals or decodes, never panics, never 500s, and never writes anything
// of the input: every message is one of a fixed set, or names a field of
// order.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `{"customer":"c1"}`, `{"customer":7}`, `[1]`, `null`, `"x"`, `{"items":[{"qty":"x"}]}`,
		`{"labels":{"a":"b"}}`, `{"customer":"c1","customer":"c2"}`, `{"shipping":{"zip":1e999}}`, `{"due":"2020"}`,
		`{"ref":{}}`, "{\"customer\":\"\xff\"}", `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`, `{"customer":"c1"}x`,
	} {
		f.Add(s, "application/json")
	}
	f.Add(`{"customer":"c1"}`, "text/plain")
	fields := []string{"customer", "items", "items.sku", "items.qty", "shipping", "shipping.zip", "labels", "due", "ref"}
	messages := []string{
		"The request body must be JSON (Content-Type: application/json)",
		"The request body must not be encoded (Content-Encoding)",
		"The request body is larger than 256 bytes",
		"The request body is empty",
		"The request body is not valid JSON",
		"The request body is not valid UTF-8",
		"The request body has a member twice",
		"The request body has a field this API does not accept",
		"A field of the request body has a value this API cannot read",
		"A field of the request body has the wrong type",
		"The request body has the wrong type",
		"The request body could not be read",
		"customer is required",
		"The customer may not order",
		"The request is invalid",
	}
	for _, name := range fields {
		messages = append(messages, `The field "`+name+`" has the wrong type`)
	}
	f.Fuzz(func(t *testing.T, body, contentType string) {
		rec, decoded := decode(t, contentType, body, nil)
		if decoded {
			if rec.Code != 201 {
				t.Fatalf("decoded, then status %d", rec.Code)
			}
			return
		}
		if !slices.Contains([]int{400, 413, 415, 422}, rec.Code) {
			t.Fatalf("status %d for %q", rec.Code, body)
		}
		var got envelopeBody
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("body %q is not the envelope: %v", rec.Body, err)
		}
		if !slices.Contains(messages, got.Error.Message) {
			t.Fatalf("message %q for %q is not one of the fixed ones", got.Error.Message, body)
		}
	})
}

// node embeds itself: the field path search must end.
type node struct {
	*node
	Name string `json:"name"`
}

func TestDecodeJSONIntoASelfEmbeddingStruct(t *testing.T) {
	for body, want := range map[string]string{
		`{"name":1}`:   `The field "name" has the wrong type`,
		`{"name":"a"}`: "",
	} {
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		var n node
		err := tgerrors.DecodeJSON(rec, req, &n, 0)
		var e *tgerrors.Error
		if want == "" && (err != nil || n.Name != "a" || n.node != nil) || want != "" && (!stderrors.As(err, &e) || e.Message != want) {
			t.Errorf("%s: got %v %+v, want %q", body, err, n, want)
		}
	}
}
