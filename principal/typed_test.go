package principal_test

import (
	"testing"

	"github.com/tollgate/tollgate/principal"
)

type orgClaims struct {
	Org  string   `json:"org"`
	Tags []string `json:"tags"`
}

func TestClaimsAs(t *testing.T) {
	p := principal.New(principal.Fields{TypedClaims: orgClaims{Org: "acme", Tags: []string{"a"}}})
	tests := []struct {
		name   string
		p      *principal.Principal
		wantOK bool
	}{
		{"the decoded type: returned", p, true},
		{"no typed claims: false", principal.New(principal.Fields{}), false},
		{"nil principal: false", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := principal.ClaimsAs[orgClaims](tt.p)
			if ok != tt.wantOK || (ok && c.Org != "acme") {
				t.Errorf("ClaimsAs = %+v, %v; want ok=%v", c, ok, tt.wantOK)
			}
		})
	}
	if _, ok := principal.ClaimsAs[*orgClaims](p); ok {
		t.Error("ClaimsAs answered for another type")
	}
}

// The value is a copy: changing its plain fields changes nothing for the
// next request.
func TestClaimsAsReturnsAValueCopy(t *testing.T) {
	p := principal.New(principal.Fields{TypedClaims: orgClaims{Org: "acme"}})
	c, _ := principal.ClaimsAs[orgClaims](p)
	c.Org = "evil"
	if again, _ := principal.ClaimsAs[orgClaims](p); again.Org != "acme" {
		t.Errorf("org = %q after a caller changed its copy", again.Org)
	}
}

func TestClaimsAsDoesNotAllocate(t *testing.T) {
	p := principal.New(principal.Fields{TypedClaims: orgClaims{Org: "acme", Tags: []string{"a"}}})
	n := testing.AllocsPerRun(100, func() {
		c, _ := principal.ClaimsAs[orgClaims](p)
		_ = c.Org
	})
	if n != 0 {
		t.Errorf("ClaimsAs allocates %v times", n)
	}
}
