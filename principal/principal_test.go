package principal_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"sync"
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
	p := principal.New(principal.Fields{Scopes: []string{"can_read_order", "integration.order"}})
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
	p := principal.New(principal.Fields{Subject: "u1"})
	got, ok := principal.From(principal.NewContext(context.Background(), p))
	if !ok || got != p {
		t.Errorf("From = %v, %v", got, ok)
	}
}

func TestStringClaim(t *testing.T) {
	p := principal.New(principal.Fields{Claims: map[string]any{"org_id": "o1", "n": 3.0}})
	if p.StringClaim("org_id") != "o1" || p.StringClaim("n") != "" || p.StringClaim("none") != "" {
		t.Error("StringClaim returns a non-string claim or misses a string one")
	}
}

func TestWhatAnAccessorReturnsCannotChangeThePrincipal(t *testing.T) {
	p := principal.New(principal.Fields{
		Subject:  "merchant-42",
		Audience: []string{"orders"},
		Scopes:   []string{"can_read_order"},
		Claims:   claims(t, `{"sub":"merchant-42","roles":["viewer"],"ext":{"org":"acme","tags":["a"]}}`),
	})
	p.Scopes()[0] = "admin"
	p.Audience()[0] = "billing"
	p.Claims()["sub"] = "someone-else"
	roles, _ := p.Claim("roles")
	roles.([]any)[0] = "admin"
	ext, _ := p.Claim("ext")
	ext.(map[string]any)["org"] = "evil"
	ext.(map[string]any)["tags"].([]any)[0] = "b"
	f := p.Fields()
	f.Scopes[0], f.Subject = "admin", "root"
	f.Claims["ext"].(map[string]any)["org"] = "evil"

	if !p.HasScope("can_read_order") || p.HasScope("admin") || !slices.Equal(p.Scopes(), []string{"can_read_order"}) {
		t.Errorf("scopes changed: %q", p.Scopes())
	}
	if !p.HasAudience("orders") || p.HasAudience("billing") {
		t.Errorf("audience changed: %q", p.Audience())
	}
	if p.StringClaim("sub") != "merchant-42" || p.Subject() != "merchant-42" {
		t.Errorf("sub changed: %q / %q", p.StringClaim("sub"), p.Subject())
	}
	want := claims(t, `{"sub":"merchant-42","roles":["viewer"],"ext":{"org":"acme","tags":["a"]}}`)
	if got := p.Claims(); !reflect.DeepEqual(got, want) {
		t.Errorf("claims changed: %v, want %v", got, want)
	}
}

func TestConcurrentHandlersChangingTheirCopiesDoNotRace(t *testing.T) {
	p := principal.New(principal.Fields{
		Scopes: []string{"a"},
		Claims: claims(t, `{"ext":{"org":"acme"},"list":[1,2]}`),
	})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				c := p.Claims()
				c["new"] = i
				c["ext"].(map[string]any)["org"] = i
				v, _ := p.Claim("list")
				v.([]any)[0] = i
				p.Scopes()[0] = "b"
			}
		}()
	}
	wg.Wait()
	if got, _ := p.Claim("ext"); got.(map[string]any)["org"] != "acme" {
		t.Errorf("ext.org = %v, want acme", got.(map[string]any)["org"])
	}
}

func TestTheHotReadersDoNotAllocate(t *testing.T) {
	p := principal.New(principal.Fields{
		Subject: "s", Type: "merchant", Audience: []string{"orders"}, Scopes: []string{"a", "b"},
		Claims: map[string]any{"org": "acme", "n": float64(3)},
	})
	n := testing.AllocsPerRun(100, func() {
		_ = p.Subject() + p.Type() + p.ClientID() + p.Issuer() + p.TokenID()
		_ = p.HasScope("b") && p.HasAudience("orders")
		_ = p.StringClaim("org")
		_, _ = p.Claim("n")
		_ = p.ExpiresAt()
	})
	if n != 0 {
		t.Errorf("hot readers allocate %v times", n)
	}
}

func TestANilPrincipalHasNothing(t *testing.T) {
	var p *principal.Principal
	if p.Subject() != "" || p.Type() != "" || p.HasScope("a") || p.Scopes() != nil || p.Claims() != nil || p.StringClaim("x") != "" {
		t.Error("nil principal reports something")
	}
	if _, ok := p.Claim("x"); ok {
		t.Error("nil principal has a claim")
	}
	if f := p.Fields(); f.Subject != "" || f.Claims != nil {
		t.Error("nil principal has fields")
	}
}

func TestClaimsOfOtherGoTypesAreCopiedToo(t *testing.T) {
	p := principal.New(principal.Fields{Claims: map[string]any{
		"tags":  map[string]string{"org": "acme"},
		"raw":   []byte("abc"),
		"grid":  [][]string{{"a"}},
		"mixed": map[string][]any{"k": {map[string]any{"x": "y"}}},
	}})
	tags, _ := p.Claim("tags")
	tags.(map[string]string)["org"] = "evil"
	raw, _ := p.Claim("raw")
	raw.([]byte)[0] = 'z'
	grid, _ := p.Claim("grid")
	grid.([][]string)[0][0] = "b"
	mixed, _ := p.Claim("mixed")
	mixed.(map[string][]any)["k"][0].(map[string]any)["x"] = "z"
	want := map[string]any{
		"tags":  map[string]string{"org": "acme"},
		"raw":   []byte("abc"),
		"grid":  [][]string{{"a"}},
		"mixed": map[string][]any{"k": {map[string]any{"x": "y"}}},
	}
	if got := p.Claims(); !reflect.DeepEqual(got, want) {
		t.Errorf("claims changed through copies: %v", got)
	}
}
