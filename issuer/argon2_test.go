package issuer_test

import (
	"strings"
	"testing"

	"github.com/tollgate/tollgate/issuer"
)

func TestCheckSecretMatchesOnlyItsSecretAndRefusesMalformedHashes(t *testing.T) {
	p := issuer.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltBytes: 16, KeyBytes: 32}
	stored := issuer.HashSecret(p, "correct horse")
	if ok, err := issuer.CheckSecret(stored, "correct horse"); !ok || err != nil {
		t.Fatalf("the right secret: %v %v", ok, err)
	}
	if ok, err := issuer.CheckSecret(stored, "correct horsE"); ok || err != nil {
		t.Fatalf("a wrong secret: %v %v", ok, err)
	}
	parts := strings.Split(stored, "$")
	for name, bad := range map[string]string{
		"bcrypt":            "$2a$10$abcdefghijklmnopqrstuv",
		"another version":   strings.Replace(stored, "v=19", "v=16", 1),
		"1 TiB of memory":   strings.Replace(stored, "m=64", "m=1073741824", 1),
		"a thousand passes": strings.Replace(stored, "t=1,", "t=1000,", 1),
		"a short hash":      strings.Join(append(parts[:5:5], "AAAA"), "$"),
		"not base64":        strings.Join(append(parts[:4:4], "!!!!", parts[5]), "$"),
	} {
		if ok, err := issuer.CheckSecret(bad, "correct horse"); ok || err == nil {
			t.Errorf("%s: %v %v", name, ok, err)
		}
	}
}
