package issuer

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	stderrors "errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

var phc = base64.RawStdEncoding

// maxArgon2MemoryKiB bounds what a stored hash may make us allocate: 1 GiB.
const maxArgon2MemoryKiB = 1 << 20

// HashSecret returns secret's argon2id hash under a new random salt, as a
// PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash) that records its
// parameters, so raising p later leaves old hashes valid. It is what the
// client registry stores of a client secret, and what a provider may store
// of its users' passwords. A zero p means DefaultArgon2Params.
func HashSecret(p Argon2Params, secret string) string {
	if p == (Argon2Params{}) {
		p = DefaultArgon2Params
	}
	salt := make([]byte, p.SaltBytes)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(secret), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyBytes)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads, phc.EncodeToString(salt), phc.EncodeToString(key))
}

// CheckSecret hashes secret with stored's parameters and salt and reports,
// in constant time, whether it matches. A stored string that is not an
// argon2id PHC string, or whose parameters would cost more than 1 GiB or
// 64 passes, is an error and matches nothing.
func CheckSecret(stored, secret string) (bool, error) {
	parts := strings.Split(stored, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false, stderrors.New("not an argon2id PHC string")
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || t < 1 || p < 1 || m > maxArgon2MemoryKiB || t > 64 {
		return false, stderrors.New("bad argon2id parameters")
	}
	salt, err1 := phc.DecodeString(parts[4])
	want, err2 := phc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) < 16 || len(want) > 128 {
		return false, stderrors.New("bad argon2id salt or hash")
	}
	got := argon2.IDKey([]byte(secret), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
