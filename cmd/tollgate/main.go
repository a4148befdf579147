// Command tollgate generates signing keys and explains why tollgate's JWT
// verifier accepts or refuses a token.
//
//	tollgate keys [-alg ES256|EdDSA|RS256] [-kid ID] -out FILE
//	tollgate explain -token T (-issuer URL | -jwks URL|FILE) [-aud A,...] [-alg RS256,...]
//	                 [-leeway 30s] [-typ at+jwt] [-role-claims C,...] [-client-ids ID,...]
//
// keys prints the public key as a JWK (kid, alg, "use": "sig") on standard
// output and writes the private key as a PKCS#8 PEM file of mode 0600,
// which it never overwrites. The private key goes to standard output only
// with -out - spelled out.
//
// explain builds a jwt.Verifier from its flags and prints each check of
// jwt.(*Verifier).Explain in the order the verifier runs them, with pass or
// FAIL and what it saw, then the verdict, which is what Verify returns for
// the same configuration and token. -token - reads the token from standard
// input, keeping it out of the process list and the shell's history. It
// prints nothing the token does not carry beyond a key's kid and RFC 7638
// thumbprint. Exit status: 0 accepted, 1 refused, 2 a usage or setup error.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `usage:
  tollgate keys [-alg ES256|EdDSA|RS256] [-kid ID] -out FILE|-
  tollgate explain -token T|- (-issuer URL | -jwks URL|FILE) [-aud A,...] [-alg ALG,...]
                   [-leeway 30s] [-typ TYP] [-role-claims C,...] [-client-ids ID,...]
`

// run is the command with its arguments (without the program name) and
// streams; it returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "keys":
		return runKeys(args[1:], stdout, stderr)
	case "explain":
		return runExplain(args[1:], stdin, stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "tollgate: unknown command %q\n%s", args[0], usage)
	return 2
}
