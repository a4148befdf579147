package main

import (
	"context"

	exdemo "github.com/tollgate/tollgate/examples/internal/demo"
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

// customerLogin is the token endpoint's Login over customers (username →
// account): the subject is the customer's id. An unknown username costs a
// hash too, so that the answer's time does not tell which exist.
func customerLogin(customers map[string]customer) issuer.LoginFunc {
	hashes := make(map[string]string, len(customers))
	for username, c := range customers {
		hashes[username] = c.PasswordHash
	}
	passwords := exdemo.NewPasswords(hashes, argon2Params)
	return func(_ context.Context, username, password string) (string, error) {
		if !passwords.Check(username, password) {
			return "", issuer.ErrBadCredentials
		}
		return customers[username].ID, nil
	}
}
