package jose

import (
	"strings"
	"testing"
)

// rfc7515A1 is the HS256 example of RFC 7515, appendix A.1.
const rfc7515A1 = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9" +
	".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ" +
	".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

// rfc7516A1 is the compact JWE of RFC 7516, appendix A.1.
const rfc7516A1 = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ." +
	"OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGeipsEdY3mx_etLbbWSrFr05kLzcSr4qKAq7YN7e9jwQRb23nfa6c9d-StnImGyFDbSv04uVuxIp5Zms1gNxKKK2Da14B8S4rzVRltdYwam_lDp5XnZAYpQdb76FdIKLaVmqgfwX7XWRxv2322i-vDxRfqNzo_tETKzpVLzfiwQyeyPGLBIO56YJ7eObdv0je81860ppamavo35UgoRdbYaBcoh9QcfylQr66oc6vFWXRcZ_ZT2LawVCWTIy3brGPi6UklfCpIMfIjf7iGdXKHzg." +
	"48V1_ALb6US04U3b." +
	"5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A." +
	"XFBoMYUZodetZdvTiFvSkQ"

func TestClassify(t *testing.T) {
	p := strings.Split(rfc7515A1, ".")
	std := strings.NewReplacer("-", "+", "_", "/").Replace(rfc7515A1)
	tests := []struct {
		name  string
		token string
		want  Shape
	}{
		{"RFC 7515 A.1", rfc7515A1, CompactJWS},
		{"three canonical parts that are no JSON", "abcd.efgh.ijkl", CompactJWS},
		{"RFC 7516 A.1 JWE", rfc7516A1, CompactJWE},
		{"no dot", "2YotnFZFEjr1zCsicMWpAA", Opaque},
		{"RFC 6749's example token", "mF_9.B5f-4.1JqM", Opaque},
		{"one dot, no JSON", "a-b.c_d~e+f/g==", Opaque},
		{"four parts, no JSON", "a.b.c.d", Opaque},
		{"a JSON object without alg", "eyJ0eXAiOiJKV1QifQ.e30", Opaque},
		{"a trailing =", rfc7515A1 + "=", NotCanonical},
		{"the standard alphabet", std, NotCanonical},
		{"padding after the header", p[0] + "==." + p[1] + "." + p[2], NotCanonical},
		{"trailing bits in the payload", p[0] + "." + p[1][:len(p[1])-1] + "R." + p[2], NotCanonical},
		{"a ~ in the header", "eyJ0~eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." + p[1] + "." + p[2], NotCanonical},
		{"an empty payload", p[0] + ".." + p[2], NotCanonical},
		{"two parts", p[0] + "." + p[1], NotCanonical},
		{"four parts", rfc7515A1 + ".e30", NotCanonical},
		{"a part before the header", "x." + rfc7515A1, NotCanonical},
		{"a JWE with padding", rfc7516A1 + "==", NotCanonical},
		{"a JWE with an empty header", "." + rfc7516A1[strings.IndexByte(rfc7516A1, '.')+1:], Opaque},
		{"alg spelled with an escape", "eyJcdTAwNjFsZyI6IkhTMjU2In0.e30", NotCanonical},
		{"a header after whitespace", "IHsiYWxnIjoiSFMyNTYifQ.e30", NotCanonical},
		{"a header after a newline", "CnsiYWxnIjoiSFMyNTYifQ.e30", NotCanonical},
	}
	for _, tt := range tests {
		if got := Classify(tt.token); got != tt.want {
			t.Errorf("%s: Classify = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestCanonicalRefusesEveryOtherSpellingOfTheBytes(t *testing.T) {
	for s, want := range map[string]bool{
		"": true, "Zg": true, "Zm8": true, "Zm9v": true, "Zh": false, "Zm9": false,
		"Zm9vY": false, "Zg==": false, "Zm+v": false, "Zm/v": false, "Zm9v\n": false, "-_-_": true,
	} {
		if got := Canonical(s); got != want {
			t.Errorf("Canonical(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestCanonicalizeGivesEverySpellingOfATokenOneForm(t *testing.T) {
	p := strings.Split(rfc7515A1, ".")
	for _, spelling := range []string{
		rfc7515A1 + "==",
		strings.NewReplacer("-", "+", "_", "/").Replace(rfc7515A1),
		p[0] + "." + p[1][:len(p[1])-1] + "R." + p[2],
		"eyJ0~eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." + p[1] + "." + p[2] + "=",
	} {
		if got := Canonicalize(spelling); got != rfc7515A1 {
			t.Errorf("Canonicalize(%q) = %q", spelling, got)
		}
	}
	for _, tok := range []string{rfc7515A1, "mF_9.B5f-4.1JqM", "2YotnFZFEjr1zCsicMWpAA="} {
		if got := Canonicalize(tok); got != tok {
			t.Errorf("Canonicalize changed %q to %q", tok, got)
		}
	}
}

func TestClassifyAllocatesNothingForCommonTokens(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers")
	}
	for _, tok := range []string{rfc7515A1, rfc7516A1, "2YotnFZFEjr1zCsicMWpAA", "mF_9.B5f-4.1JqM", "ya29.c.b0AXv0zTN"} {
		if n := testing.AllocsPerRun(100, func() { Classify(tok) }); n != 0 {
			t.Errorf("Classify(%.20q…) allocates %v times", tok, n)
		}
	}
}
