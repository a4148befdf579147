package jwt

import (
	"fmt"
	"testing"
)

type orgClaims struct {
	OrgID string `json:"org_id"`
}

// One token has one reading: a payload whose member names differ only in
// case (which encoding/json would read as one field, the last) is refused
// when claims are decoded into a type.
func TestTypedClaimsRefuseMembersThatDifferOnlyInCase(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	is := jwksIssuer(iss)
	is.Claims = DecodeClaims[orgClaims]()
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{is}})
	now := clock.Now().Unix()
	header := fmt.Sprintf(`{"alg":"RS256","typ":"JWT","kid":%q}`, iss.KID("RS256"))
	for _, extra := range []string{`"ORG_ID":"org-B"`, `"nested":{"a":1,"A":2}`, "\"\u212aey\":1,\"key\":2"} {
		payload := fmt.Sprintf(`{"iss":%q,"sub":"user-1","aud":%q,"iat":%d,"exp":%d,"org_id":"org-A",%s}`, iss.URL(), testAudience, now, now+3600, extra)
		if _, err := v.Verify(t.Context(), iss.Sign([]byte(header), []byte(payload))); err == nil {
			t.Errorf("payload with %s verified", extra)
		}
	}
	payload := fmt.Sprintf(`{"iss":%q,"sub":"user-1","aud":%q,"iat":%d,"exp":%d,"org_id":"org-A"}`, iss.URL(), testAudience, now, now+3600)
	if _, err := v.Verify(t.Context(), iss.Sign([]byte(header), []byte(payload))); err != nil {
		t.Fatalf("a plain payload: %v", err)
	}
}

// ClientIDs on a template that admits every tenant is refused at start-up:
// any tenant could mint a token for its own API to a listed client.
func TestClientIDsOnAnOpenTenantTemplateIsRefused(t *testing.T) {
	clock := newTestClock()
	common := newIssuer(t, clock)
	_, err := NewVerifier(t.Context(), Config{Issuers: []Issuer{{
		Issuer: entraTemplate, JWKSURL: common.JWKSURL(), ClientIDs: []string{"spa-client"},
		Audiences: []string{testAudience}, Algorithms: []string{"RS256"},
	}}, Now: clock.Now})
	if err == nil {
		t.Fatal("ClientIDs on an open tenant template was accepted")
	}
	v, err := NewVerifier(t.Context(), Config{Issuers: []Issuer{{
		Issuer: entraTemplate, JWKSURL: common.JWKSURL(), ClientIDs: []string{"spa-client"}, Tenants: []string{"tenant-a"},
		Algorithms: []string{"RS256"},
	}}, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	_ = v.Close()
}
