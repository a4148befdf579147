package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// runKeys is `tollgate keys`.
func runKeys(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keys", flag.ContinueOnError)
	fs.SetOutput(stderr)
	alg := fs.String("alg", "ES256", "signing algorithm: ES256, EdDSA or RS256 (RSA 3072 bits)")
	kid := fs.String("kid", "", "key ID (default: the key's RFC 7638 thumbprint)")
	out := fs.String("out", "", "file to write the private key to, PKCS#8 PEM, mode 0600; - for standard output")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tollgate keys: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *out == "" {
		fmt.Fprintln(stderr, "tollgate keys: -out FILE is required (the private key is written there; -out - writes it to standard output)")
		return 2
	}
	var priv crypto.Signer
	var err error
	switch *alg {
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case "RS256":
		priv, err = rsa.GenerateKey(rand.Reader, 3072)
	default:
		fmt.Fprintf(stderr, "tollgate keys: -alg %q: want ES256, EdDSA or RS256\n", *alg)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "tollgate keys: generating the key: %v\n", err)
		return 2
	}
	pub, err := publicJWK(priv.Public(), *alg, *kid)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate keys: %v\n", err)
		return 2
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate keys: encoding the private key: %v\n", err)
		return 2
	}
	block := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if *out != "-" {
		// O_EXCL: a key is never overwritten by a new one.
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			fmt.Fprintf(stderr, "tollgate keys: %v\n", err)
			return 2
		}
		_, werr := f.Write(block)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			os.Remove(*out)
			fmt.Fprintf(stderr, "tollgate keys: writing %s: %v\n", *out, werr)
			return 2
		}
	}
	fmt.Fprintf(stdout, "%s\n", pub)
	if *out == "-" {
		fmt.Fprintf(stdout, "%s", block)
	}
	return 0
}

// publicJWK is the public key as an indented JWK with kid, alg and use.
func publicJWK(pub crypto.PublicKey, alg, kid string) ([]byte, error) {
	k, err := jwk.Import(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding the public key: %w", err)
	}
	if kid == "" {
		tp, err := k.Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("thumbprint: %w", err)
		}
		kid = base64.RawURLEncoding.EncodeToString(tp)
	}
	for name, v := range map[string]any{"kid": kid, "alg": alg, "use": "sig"} {
		if err := k.Set(name, v); err != nil {
			return nil, fmt.Errorf("setting %s: %w", name, err)
		}
	}
	return json.MarshalIndent(k, "", "  ")
}
