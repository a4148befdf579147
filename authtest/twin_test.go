package authtest_test

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/authtest"
)

func TestECDSATwinIsADistinctValidSignatureOfTheSameToken(t *testing.T) {
	iss := authtest.NewIssuer(t)
	token := iss.Mint(map[string]any{"sub": "u1"}, authtest.WithAlg(authtest.ES256))
	twin, err := authtest.ECDSATwin(token)
	if err != nil {
		t.Fatal(err)
	}
	dot := strings.LastIndexByte(token, '.')
	if twin == token || twin[:dot] != token[:dot] {
		t.Fatal("the twin is not the same signing input with another signature")
	}
	sig, _ := base64.RawURLEncoding.DecodeString(twin[dot+1:])
	digest := sha256.Sum256([]byte(twin[:dot]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(iss.PublicKey(authtest.ES256).(*ecdsa.PublicKey), digest[:], r, s) {
		t.Error("the twin's signature does not verify")
	}
	if _, err := authtest.ECDSATwin(iss.Mint(map[string]any{"sub": "u1"})); err == nil {
		t.Error("an RS256 token got a twin")
	}
}
