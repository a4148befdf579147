package bearer

import (
	"math/rand/v2"
	"regexp"
	"testing"
)

// b64token is RFC 6750 §2.1's grammar, the reference Valid is held to.
var b64token = regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)

func TestValidTokenMatchesTheGrammar(t *testing.T) {
	alphabet := []byte("Aa09-._~+/= \t\"\\,;:\x00\x7f\xff")
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 20000; n++ {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		s := string(b)
		if got, want := Valid(s), b64token.MatchString(s); got != want {
			t.Fatalf("Valid(%q) = %v, grammar says %v", s, got, want)
		}
	}
}

func FuzzValidToken(f *testing.F) {
	for _, s := range []string{"", "=", "abc", "abc==", "a=b", "eyJh.eyJz.c2ln", "t\u00f6ken", "abcdefgh=ijklmnop"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Valid(s), b64token.MatchString(s); got != want {
			t.Fatalf("Valid(%q) = %v, grammar says %v", s, got, want)
		}
	})
}
