package apikey_test

import (
	"context"
	"hash/crc32"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/apikey"
	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
)

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func decode62(s string) uint64 {
	var n uint64
	for i := 0; i < len(s); i++ {
		n = n*62 + uint64(strings.IndexByte(alphabet, s[i]))
	}
	return n
}

func TestTokensArePrefixRandomAndACRC32OfTheRest(t *testing.T) {
	k := newKeys(t, apikey.NewMemoryStore(), authtest.NewClock(start))
	if bits := apikey.RandomChars * math.Log2(62); bits < 160 {
		t.Fatalf("random part carries %.1f bits, want at least 160", bits)
	}
	seen := map[string]bool{}
	for _, prefix := range []string{"mt_live", "mt_test"} {
		for range 50 {
			s := spec()
			s.Prefix = prefix
			key, token := create(t, k, s)
			if !strings.HasPrefix(token, prefix+"_") || len(token) != len(prefix)+1+apikey.RandomChars+apikey.ChecksumChars {
				t.Fatalf("token %q: want %s_ + %d characters", token, prefix, apikey.RandomChars+apikey.ChecksumChars)
			}
			body := token[len(prefix)+1:]
			if strings.Trim(body, alphabet) != "" {
				t.Fatalf("token body %q is not base62", body)
			}
			n := len(token)
			if got, want := decode62(token[n-apikey.ChecksumChars:]), uint64(crc32.ChecksumIEEE([]byte(token[:n-apikey.ChecksumChars]))); got != want {
				t.Fatalf("checksum %d, want CRC-32 %d", got, want)
			}
			if want := prefix + "_…" + token[n-4:]; key.Hint != want || apikey.Hint(token) != want {
				t.Fatalf("hint %q, Hint() %q, want %q", key.Hint, apikey.Hint(token), want)
			}
			if !apikey.WellFormed(token) || seen[token] {
				t.Fatalf("token %q: well formed %v, seen before %v", token, apikey.WellFormed(token), seen[token])
			}
			seen[token] = true
		}
	}
}

// Every character position of the random part takes every base62 value:
// the rejection sampling does not favour any.
func TestRandomCharactersCoverTheAlphabet(t *testing.T) {
	k := newKeys(t, apikey.NewMemoryStore(), authtest.NewClock(start))
	counts := map[byte]int{}
	for range 200 {
		_, token := create(t, k, spec())
		for i := len("mt_live_"); i < len("mt_live_")+apikey.RandomChars; i++ {
			counts[token[i]]++
		}
	}
	if len(counts) != 62 {
		t.Fatalf("%d distinct characters in 6,400 random ones, want 62", len(counts))
	}
	for c, n := range counts {
		if n < 50 || n > 170 { // expected 103; far outside ±6σ
			t.Errorf("character %q drawn %d times of 6,400, expected about 103", c, n)
		}
	}
}

func TestMalformedTokensAreRefusedBeforeAnyLookup(t *testing.T) {
	store := &countingStore{Store: apikey.NewMemoryStore()}
	k := newKeys(t, store, authtest.NewClock(start))
	_, token := create(t, k, spec())
	n := len(token)
	flip := func(i int) string {
		c := byte('A')
		if token[i] == 'A' {
			c = 'B'
		}
		return token[:i] + string(c) + token[i+1:]
	}
	other := newKeys(t, apikey.NewMemoryStore(), authtest.NewClock(start), func(c *apikey.Config) {
		c.Prefixes = []apikey.Prefix{{Name: "xx_live"}}
	})
	_, foreign := create(t, other, apikey.Spec{Owner: apikey.Owner{ID: "m"}})
	cases := map[string]string{
		"empty":                       "",
		"a random part character":     flip(len("mt_live_") + 3),
		"a checksum character":        flip(n - 1),
		"the prefix":                  "mt_lime" + token[7:],
		"an unknown prefix":           foreign,
		"one character short":         token[:n-1],
		"one character more":          token + "A",
		"no underscore":               "mt_live" + "x" + token[8:],
		"a non-base62 character":      token[:10] + "-" + token[11:],
		"a checksum above 2^32":       token[:n-6] + "zzzzzz",
		"the prefix alone":            "mt_live_",
		"a JWT":                       "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
		"the token twice":             token + token,
		"lower-cased":                 strings.ToLower(token),
		"a space in the random part":  token[:12] + " " + token[13:],
		"the checksum of another key": token[:n-6] + "000000",
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			if bad == token {
				t.Fatal("the case is the valid token")
			}
			p, err := k.Verify(context.Background(), bad)
			if p != nil || kindOf(err) != tgerrors.InvalidToken {
				t.Fatalf("Verify(%q) = %v, %v; want invalid_token", bad, p, err)
			}
			if k.Recognizes(bad) {
				t.Fatalf("Recognizes(%q) = true", bad)
			}
		})
	}
	if n := store.lookups.Load(); n != 0 {
		t.Fatalf("%d store lookups for malformed tokens, want 0", n)
	}
	if !k.Recognizes(token) {
		t.Fatal("Recognizes refuses a valid token")
	}
}

func TestPrefixesAreValidated(t *testing.T) {
	for _, name := range []string{"", "MT_live", "mt-live", "_mt", "mt_", "mt live", strings.Repeat("a", 33)} {
		_, err := apikey.New(apikey.Config{
			Store: apikey.NewMemoryStore(), Peppers: []apikey.Pepper{pepper(t, "p1")},
			Prefixes: []apikey.Prefix{{Name: name}},
		})
		if err == nil {
			t.Errorf("prefix %q accepted", name)
		}
	}
	for _, name := range []string{"mt", "mt_live", "a1_b2_c3", strconv.Itoa(7)} {
		k, err := apikey.New(apikey.Config{
			Store: apikey.NewMemoryStore(), Peppers: []apikey.Pepper{pepper(t, "p1")},
			Prefixes: []apikey.Prefix{{Name: name}},
		})
		if err != nil {
			t.Errorf("prefix %q refused: %v", name, err)
			continue
		}
		k.Close()
	}
}
