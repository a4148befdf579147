package principal_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/tollgate/tollgate/principal"
)

func claims(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestParseScopes(t *testing.T) {
	tests := []struct {
		name   string
		claims string
		names  []string
		want   []string
	}{
		{"space-delimited scope string", `{"scope":"can_read_order  can_write_order"}`, nil, []string{"can_read_order", "can_write_order"}},
		{"scope as a JSON array", `{"scope":["integration.store","integration.order"]}`, nil, []string{"integration.store", "integration.order"}},
		{"scp and permissions are read too, duplicates dropped", `{"scope":"a b","scp":["b","c"],"permissions":["d"]}`, nil, []string{"a", "b", "c", "d"}},
		{"claim names match exactly", `{"SCOPE":"admin","Scope":"admin"}`, nil, nil},
		{"non-strings in an array are ignored", `{"scope":["a",1,null,{"x":"y"},"b"]}`, nil, []string{"a", "b"}},
		{"a number is not a scope", `{"scope":42}`, nil, nil},
		{"configured names replace the defaults", `{"scope":"a","perms":"p q"}`, []string{"perms"}, []string{"p", "q"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := principal.ParseScopes(claims(t, tt.claims), tt.names...)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHasScopeIsExactAndDoesNotAllocate(t *testing.T) {
	p := &principal.Principal{Scopes: []string{"can_read_order", "integration.order"}}
	if !p.HasScope("can_read_order") || p.HasScope("can_read") || p.HasScope("CAN_READ_ORDER") {
		t.Error("HasScope is not an exact match")
	}
	var nilP *principal.Principal
	if nilP.HasScope("x") {
		t.Error("nil principal has a scope")
	}
	if n := testing.AllocsPerRun(100, func() { p.HasScope("integration.order") }); n != 0 {
		t.Errorf("HasScope allocates %v times", n)
	}
}

func TestContextRoundTrip(t *testing.T) {
	if _, ok := principal.From(context.Background()); ok {
		t.Error("empty context has a principal")
	}
	if _, ok := principal.From(principal.NewContext(context.Background(), nil)); ok {
		t.Error("a nil principal counts as authenticated")
	}
	p := &principal.Principal{Subject: "u1"}
	got, ok := principal.From(principal.NewContext(context.Background(), p))
	if !ok || got != p {
		t.Errorf("From = %v, %v", got, ok)
	}
}

func TestStringClaim(t *testing.T) {
	p := &principal.Principal{Claims: map[string]any{"org_id": "o1", "n": 3.0}}
	if p.StringClaim("org_id") != "o1" || p.StringClaim("n") != "" || p.StringClaim("none") != "" {
		t.Error("StringClaim returns a non-string claim or misses a string one")
	}
}
