package bearer

import (
	"net/http"
	"testing"
)

func TestFromHeader(t *testing.T) {
	tests := []struct {
		name      string
		values    []string
		wantToken string
		want      Result
	}{
		{"no header", nil, "", None},
		{"a bearer token", []string{"Bearer tok-1"}, "tok-1", Found},
		{"the scheme in any case", []string{"bEARER tok-1"}, "tok-1", Found},
		{"spaces after the scheme are skipped", []string{"Bearer   tok-1"}, "tok-1", Found},
		{"another scheme", []string{"Basic dTpw"}, "", None},
		{"a scheme that starts with Bearer", []string{"Bearerish tok-1"}, "", None},
		{"a tab is no separator", []string{"Bearer\ttok-1"}, "", None},
		{"the scheme alone", []string{"Bearer"}, "", Malformed},
		{"the scheme and spaces", []string{"Bearer   "}, "", Malformed},
		{"two headers", []string{"Bearer a", "Bearer b"}, "", Several},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.values != nil {
				h["Authorization"] = tt.values
			}
			token, got := FromHeader(h)
			if token != tt.wantToken || got != tt.want {
				t.Fatalf("FromHeader = %q, %d; want %q, %d", token, got, tt.wantToken, tt.want)
			}
		})
	}
	h := http.Header{"Authorization": {"Bearer tok-1"}}
	if allocs := testing.AllocsPerRun(100, func() { FromHeader(h) }); allocs != 0 {
		t.Errorf("FromHeader allocates %v times", allocs)
	}
}
