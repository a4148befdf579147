package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/tollgate/tollgate/issuer"
)

// argon2Params are argon2id's cost: issuer.DefaultArgon2Params (19 MiB, 2
// passes, 1 thread: OWASP's minimum). Each hash records its own.
var argon2Params = issuer.DefaultArgon2Params

var b64 = base64.RawStdEncoding

// hashPassword returns password's argon2id hash as a PHC string,
// $argon2id$v=19$m=…,t=…,p=…$salt$hash: all the store keeps of it.
func hashPassword(password string) string {
	p := argon2Params
	salt := make([]byte, p.SaltBytes)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyBytes)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// checkPassword reports whether password matches the PHC string phc, in
// constant time. A malformed hash matches nothing.
func checkPassword(phc, password string) bool {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<20 || t > 16 {
		return false
	}
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// customerLogin is the token endpoint's Login over customers (username →
// account): the subject is the customer's id. An unknown username costs a
// hash too, so that the answer's time does not tell which exist.
func customerLogin(customers map[string]customer) issuer.LoginFunc {
	dummy := hashPassword(rand.Text())
	return func(_ context.Context, username, password string) (string, error) {
		c, ok := customers[username]
		if !ok {
			checkPassword(dummy, password)
			return "", issuer.ErrBadCredentials
		}
		if !checkPassword(c.PasswordHash, password) {
			return "", issuer.ErrBadCredentials
		}
		return c.ID, nil
	}
}
