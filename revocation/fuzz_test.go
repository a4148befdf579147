package revocation_test

import (
	"testing"

	"github.com/tollgate/tollgate/internal/jose"
	"github.com/tollgate/tollgate/internal/jose/josetest"
	"github.com/tollgate/tollgate/revocation"
)

// FuzzTokenHashIsTheSameForEverySpelling: TokenHash never panics, and
// every re-spelling of a canonical JWS under a lax base64 variant has the
// JWS's hash, so that no re-encoding escapes a revocation by hash.
func FuzzTokenHashIsTheSameForEverySpelling(f *testing.F) {
	for _, v := range josetest.Vectors() {
		for variant := range uint8(8) {
			f.Add(v, variant*9)
		}
	}
	f.Fuzz(func(t *testing.T, token string, variant uint8) {
		h := revocation.TokenHash(token)
		if jose.Classify(token) != jose.CompactJWS || jose.Classify(token+"=") != jose.NotCanonical {
			return // not a canonical JWS with a JOSE header
		}
		r := josetest.Respell(token, variant)
		if r == token {
			return
		}
		if got := revocation.TokenHash(r); got != h {
			t.Fatalf("%q, a spelling of %q, hashes to %s, not %s", r, token, got, h)
		}
	})
}
