package principal

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tollgate/tollgate/internal/lazyclaims"
)

// newLazy is a principal whose claims are raw (JSON text), decoded on
// first use, counting the decodes in n.
func newLazy(t *testing.T, raw string, n *atomic.Int32) *Principal {
	t.Helper()
	decode := func(s string) (map[string]any, error) {
		n.Add(1)
		var m map[string]any
		err := json.Unmarshal([]byte(s), &m)
		return m, err
	}
	return lazyclaims.New(Fields{Subject: "user-1", Claims: map[string]any{"ignored": true}}, raw, decode).(*Principal)
}

func TestEncodedClaimsAreDecodedOnceOnFirstRead(t *testing.T) {
	var n atomic.Int32
	p := newLazy(t, `{"sub":"user-1","org_id":"org-9","tags":["a","b"]}`, &n)
	if n.Load() != 0 {
		t.Fatal("claims were decoded before any was read")
	}
	if got := p.Subject(); got != "user-1" {
		t.Errorf("Subject = %q", got)
	}
	if n.Load() != 0 {
		t.Error("reading the subject decoded the claims")
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := p.StringClaim("org_id"); got != "org-9" {
				t.Errorf("StringClaim(org_id) = %q", got)
			}
		}()
	}
	wg.Wait()
	if got := n.Load(); got != 1 {
		t.Errorf("claims decoded %d times, want once", got)
	}
	if _, ok := p.Claim("ignored"); ok {
		t.Error("the Fields' Claims were kept beside the encoded claims")
	}
	if allocs := testing.AllocsPerRun(100, func() { p.StringClaim("org_id") }); allocs != 0 {
		t.Errorf("StringClaim allocates %v times once decoded", allocs)
	}
}

func TestEncodedClaimsReadThroughEveryAccessorAreCopies(t *testing.T) {
	var n atomic.Int32
	p := newLazy(t, `{"tags":["a","b"],"n":1}`, &n)
	tags, _ := p.Claim("tags")
	tags.([]any)[0] = "changed"
	all := p.Claims()
	all["tags"].([]any)[1] = "changed"
	all["n"] = 2.0
	f := p.Fields()
	f.Claims["tags"] = nil
	again, _ := p.Claim("tags")
	if got := again.([]any); got[0] != "a" || got[1] != "b" {
		t.Errorf("tags = %v: a copy handed out reached the principal", got)
	}
	if v, _ := p.Claim("n"); v != 1.0 {
		t.Errorf("n = %v", v)
	}
}

func TestEncodedClaimsThatDoNotDecodeAreNoClaims(t *testing.T) {
	var n atomic.Int32
	p := newLazy(t, `{not json`, &n)
	if _, ok := p.Claim("sub"); ok {
		t.Error("a claim was found in claims that do not decode")
	}
	if p.Claims() != nil {
		t.Error("Claims of undecodable claims is not nil")
	}
}
