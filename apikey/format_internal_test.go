package apikey

import (
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

func TestChecksumStringIsCRC32IEEE(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 200 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if got, want := checksumString(string(b)), crc32.ChecksumIEEE(b); got != want {
			t.Fatalf("length %d: %08x, want %08x", n, got, want)
		}
	}
}
