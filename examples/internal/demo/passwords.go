package demo

import (
	"crypto/rand"

	"github.com/tollgate/tollgate/issuer"
)

// CheckPassword reports whether password matches the PHC string stored, in
// constant time (issuer.CheckSecret). A malformed hash matches nothing.
func CheckPassword(stored, password string) bool {
	ok, err := issuer.CheckSecret(stored, password)
	return ok && err == nil
}

// Passwords are users' passwords as argon2id PHC strings
// (issuer.HashSecret): all an example keeps of them.
type Passwords struct {
	hashes map[string]string // username → PHC hash
	// decoy is checked for a username that is no user's, so that the
	// time an answer takes does not tell which usernames exist.
	decoy string
}

// NewPasswords checks passwords against hashes (username → PHC hash),
// which it keeps and does not copy. p is the cost of the decoy hash an
// unknown username is checked against: that of the users' own, so that
// both answers take as long.
func NewPasswords(hashes map[string]string, p issuer.Argon2Params) *Passwords {
	return &Passwords{hashes: hashes, decoy: issuer.HashSecret(p, rand.Text())}
}

// Check reports whether password is username's. An unknown username
// costs a hash as a known one does.
func (ps *Passwords) Check(username, password string) bool {
	stored, known := ps.hashes[username]
	if !known {
		stored = ps.decoy
	}
	return CheckPassword(stored, password) && known
}
