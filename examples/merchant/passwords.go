package main

import (
	"context"
	"crypto/rand"

	"github.com/tollgate/tollgate/issuer"
)

// hashPassword returns password's argon2id hash as a PHC string
// (issuer.HashSecret with issuer.DefaultArgon2Params: 19 MiB, 2 passes,
// 1 thread, OWASP's minimum): all the store keeps of it.
func hashPassword(password string) string {
	return issuer.HashSecret(argon2Params, password)
}

// argon2Params are the cost of new hashes; each hash records its own, so
// raising them later leaves the old ones valid.
var argon2Params = issuer.DefaultArgon2Params

// checkPassword reports whether password matches the PHC string stored, in
// constant time (issuer.CheckSecret). A malformed hash matches nothing.
func checkPassword(stored, password string) bool {
	ok, err := issuer.CheckSecret(stored, password)
	return ok && err == nil
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
