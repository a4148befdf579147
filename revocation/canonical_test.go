package revocation_test

import (
	"strings"
	"testing"

	"github.com/tollgate/tollgate/revocation"
)

// rfc7515A3 is the ES256 example of RFC 7515, appendix A.3.
const rfc7515A3 = "eyJhbGciOiJFUzI1NiJ9" +
	".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ" +
	".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"

// A revocation by hash must hold whatever base64 variant the token is
// presented in: a lax verifier would take each of these for the token.
func TestEveryReEncodingOfAJWSHasTheTokenHashOfItsCanonicalForm(t *testing.T) {
	p := strings.Split(rfc7515A3, ".")
	std := strings.NewReplacer("-", "+", "_", "/").Replace(rfc7515A3)
	want := revocation.TokenHash(rfc7515A3)
	for name, token := range map[string]string{
		"a trailing =":                           rfc7515A3 + "=",
		"the standard alphabet":                  std,
		"the standard alphabet with padding":     std + "==",
		"padding after the payload":              p[0] + "." + p[1] + "==." + p[2],
		"non-canonical trailing bits, payload":   p[0] + "." + p[1][:len(p[1])-1] + "R." + p[2],
		"non-canonical trailing bits, signature": p[0] + "." + p[1] + "." + p[2][:len(p[2])-1] + "R",
		"a ~ inside the header":                  "eyJh~bGciOiJFUzI1NiJ9." + p[1] + "." + p[2],
	} {
		if got := revocation.TokenHash(token); got != want {
			t.Errorf("%s: TokenHash = %s, want the canonical token's %s", name, got, want)
		}
	}

	// Tokens that are not JOSE keep a hash of their own.
	for _, opaque := range []string{"2YotnFZFEjr1zCsicMWpAA", "2YotnFZFEjr1zCsicMWpAA=", "mk_live.abc+def"} {
		if revocation.TokenHash(opaque) == want || revocation.TokenHash(opaque) == revocation.TokenHash(opaque+"x") {
			t.Errorf("%q: hashes collide", opaque)
		}
	}
	if revocation.TokenHash("2YotnFZFEjr1zCsicMWpAA") == revocation.TokenHash("2YotnFZFEjr1zCsicMWpAA=") {
		t.Error("an opaque token is judged by its bytes, padding included")
	}
}
