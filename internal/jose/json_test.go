package jose

import (
	stderrors "errors"
	"testing"
)

func TestDecodeObject(t *testing.T) {
	tests := []struct {
		json string
		want error
	}{
		{`{}`, nil},
		{` {"a":1,"b":{"a":1},"c":[{"a":1},{"a":2}]} `, nil},
		{`{"s":"Zoë 山田 😀 \ud83d\ude00 \u00e9 \u0000"}`, nil},
		{`{"s":"\\ud800"}`, nil},                     // an escaped backslash, then text
		{`{"s":"a:b","t":"\"c\":d"}`, nil},           // colons inside strings
		{`{"\ud83d\ude00":1,"\ud83d\ude01":2}`, nil}, // names differing in a low surrogate
		{`{"s":"` + "\xff" + `"}`, ErrEncoding},
		{`{"s":"` + "\xed\xa0\x80" + `"}`, ErrEncoding},
		{`{"s":"` + "\xf4\x90\x80\x80" + `"}`, ErrEncoding}, // beyond U+10FFFF
		{`{"s":"\ud800"}`, ErrEncoding},
		{`{"s":"\uDBFF\u0000"}`, ErrEncoding},
		{`{"s":"\udc00\ud800"}`, ErrEncoding},
		{`{"s":["\ud800"]}`, ErrEncoding},
		{`{"a":1,"a":1}`, ErrDuplicate},
		{`{"a":1,"\u0061":1}`, ErrDuplicate},
		{`{"x":{"a":1,"\u0061":1}}`, ErrDuplicate},
		{`{"x":[[{"a":{"b":1,"b":1}}]]}`, ErrDuplicate},
		{`[{"a":1}]`, ErrNotObject},
		{`null`, ErrNotObject},
		{`"x"`, ErrNotObject},
		{`{"a":1`, ErrSyntax},
		{`{"a":1}{"b":2}`, ErrSyntax},
		{``, ErrSyntax},
		{`{"a":1e400}`, ErrSyntax},
	}
	for _, tt := range tests {
		_, err := DecodeObject([]byte(tt.json))
		if tt.want == nil && err != nil || tt.want != nil && !stderrors.Is(err, tt.want) {
			t.Errorf("DecodeObject(%q) = %v, want %v", tt.json, err, tt.want)
		}
	}
}
