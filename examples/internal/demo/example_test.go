package demo_test

import (
	"fmt"

	"github.com/tollgate/tollgate/examples/internal/demo"
	"github.com/tollgate/tollgate/issuer"
)

func ExamplePasswords() {
	// Cheap hashes for the example; the examples use
	// issuer.DefaultArgon2Params.
	p := issuer.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltBytes: 16, KeyBytes: 32}
	passwords := demo.NewPasswords(map[string]string{"alice": issuer.HashSecret(p, "correct horse")}, p)
	fmt.Println(passwords.Check("alice", "correct horse"))
	fmt.Println(passwords.Check("alice", "battery staple"))
	fmt.Println(passwords.Check("bob", "correct horse")) // checked against the decoy
	// Output:
	// true
	// false
	// false
}
