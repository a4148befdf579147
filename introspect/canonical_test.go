package introspect

import (
	"context"
	"strings"
	"testing"

	tgerrors "github.com/tollgate/tollgate/errors"
)

// rfc7515A2 is the RS256 example of RFC 7515, appendix A.2.
const rfc7515A2 = "eyJhbGciOiJSUzI1NiJ9" +
	".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ" +
	".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"

// A JWS spelled in anything but canonical base64url would be hashed (for
// the cache and for revocation) apart from its canonical spelling, while a
// lax authorization server reads both as one token: it is refused before
// any call.
func TestNonCanonicalJOSETokensNeverReachTheEndpoint(t *testing.T) {
	p := strings.Split(rfc7515A2, ".")
	std := strings.NewReplacer("-", "+", "_", "/").Replace(rfc7515A2)
	jwe := "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGeipsEdY3mx_etLbbWSrFr05kLzcSr4qKAq7YN7e9jwQRb23nfa6c9d-StnImGyFDbSv04uVuxIp5Zms1gNxKKK2Da14B8S4rzVRltdYwam_lDp5XnZAYpQdb76FdIKLaVmqgfwX7XWRxv2322i-vDxRfqNzo_tETKzpVLzfiwQyeyPGLBIO56YJ7eObdv0je81860ppamavo35UgoRdbYaBcoh9QcfylQr66oc6vFWXRcZ_ZT2LawVCWTIy3brGPi6UklfCpIMfIjf7iGdXKHzg.48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A.XFBoMYUZodetZdvTiFvSkQ"
	tests := map[string]string{
		"a trailing =":                         rfc7515A2 + "=",
		"the standard alphabet":                std,
		"the standard alphabet with padding":   std + "==",
		"non-canonical trailing bits, payload": p[0] + "." + p[1][:len(p[1])-1] + "R" + "." + p[2],
		"a ~ inside the header":                "eyJh~bGciOiJSUzI1NiJ9." + p[1] + "." + p[2],
		"an empty part":                        p[0] + ".." + p[2],
		"two parts with a JOSE header":         p[0] + "." + p[1],
		"four parts with a JOSE header":        rfc7515A2 + ".e30",
		"a JWE with a padded part":             jwe + "==",
	}
	ep := newEndpoint(t, answer(`{"active":true}`))
	c := newClient(t, ep, newClock(), nil)
	for name, token := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := c.Verify(context.Background(), token)
			if err == nil {
				t.Fatalf("accepted as %+v", p)
			}
			wantRefusal(t, err, tgerrors.InvalidToken)
		})
	}
	if n := ep.calls.Load(); n != 0 {
		t.Errorf("the endpoint was called %d times", n)
	}
	for name, token := range map[string]string{"a canonical JWS": rfc7515A2, "a canonical JWE (RFC 7516 A.1)": jwe} {
		if _, err := c.Verify(context.Background(), token); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
