package jwt

import (
	"bytes"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/json"
	"math/big"
	"slices"
	"strings"
	"testing"
)

// FuzzParseJWKS feeds the JWKS loader arbitrary bytes, seeded with the RFC
// 7517, 7520 and 8037 example keys and Wycheproof's JWK vectors. The
// loader must never panic, and every key it keeps must be one the strict
// path (staticKey, verifyKey.check) keeps too and that passes checks made
// here independently of the loader's own code.
func FuzzParseJWKS(f *testing.F) {
	for _, seed := range jwksSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		set, refused, err := parseJWKS(data)
		if err != nil {
			if set != nil || refused != nil {
				t.Fatalf("an error (%v) came with keys", err)
			}
			return
		}
		if len(set.keys) == 0 {
			t.Fatal("a set with no key was accepted")
		}
		for _, r := range refused {
			if r.err == nil {
				t.Fatalf("key %d dropped without a reason", r.index)
			}
		}
		kids := map[string]bool{}
		for _, k := range set.keys {
			if k.kid != "" && kids[k.kid] {
				t.Fatalf("kid %q kept twice", k.kid)
			}
			kids[k.kid] = true
			checkKeptKey(t, k)
		}
		checkKeptJWKs(t, data, set)
	})
}

// checkKeptKey fails unless k is a key the strict path accepts.
func checkKeptKey(t *testing.T, k *verifyKey) {
	t.Helper()
	var pub any
	n := 0
	if k.rsa != nil {
		n, pub = n+1, k.rsa
		if k.rsa.N.BitLen() < minRSABits || k.rsa.N.Bit(0) == 0 || k.rsa.E < 3 || k.rsa.E%2 == 0 {
			t.Fatalf("weak RSA key kept: %d bits, e = %d", k.rsa.N.BitLen(), k.rsa.E)
		}
	}
	if k.ec != nil {
		n, pub = n+1, k.ec
		b, err := k.ec.Bytes()
		if err != nil || !onNISTCurve(k.ec.Curve, b) {
			t.Fatalf("EC point off its curve kept: %x", b)
		}
	}
	if k.ed != nil {
		n, pub = n+1, k.ed
		if len(k.ed) != ed25519.PublicKeySize || !canonicalY(k.ed) {
			t.Fatalf("non-canonical Ed25519 key kept: %x", []byte(k.ed))
		}
		for _, so := range smallOrderEd25519 {
			if bytes.Equal(k.ed, mustHex(t, so.hex)) {
				t.Fatalf("small-order Ed25519 key kept: %s", so.name)
			}
		}
	}
	if n != 1 || k.secret != nil {
		t.Fatalf("kept key holds %d public keys and secret %v", n, k.secret != nil)
	}
	if k.alg != "" {
		if a := jwsAlgorithms[k.alg]; a == nil || a.family == familyHMAC || !k.suits(a) {
			t.Fatalf("kept key with alg %q that does not suit it", k.alg)
		}
	}
	if err := k.check(); err != nil {
		t.Fatalf("kept key fails check: %v", err)
	}
	sk, err := staticKey(StaticKey{ID: k.kid, Algorithm: k.alg, Public: pub})
	if err != nil {
		t.Fatalf("kept key refused as a static key: %v", err)
	}
	if !sk.equal(k) {
		t.Fatal("the static path reads the key differently")
	}
}

// checkKeptJWKs fails unless the set's keys are those its JWKs give one by
// one, each meant for verification and without private material, as read
// here from the JSON.
func checkKeptJWKs(t *testing.T, data []byte, set *keySet) {
	t.Helper()
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("accepted a set encoding/json cannot read: %v", err)
	}
	var keys []*verifyKey
	for _, raw := range doc.Keys {
		k, _, err := parseJWK(raw)
		if err != nil || k == nil {
			continue
		}
		keys = append(keys, k)
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("kept a JWK encoding/json cannot read: %v", err)
		}
		for _, name := range privateJWKMembers {
			if _, ok := m[name]; ok {
				t.Fatalf("kept a JWK with private member %q", name)
			}
		}
		if use, ok := m["use"]; ok && use != "sig" {
			t.Fatalf("kept a JWK with use %v", use)
		}
		if ops, ok := m["key_ops"]; ok {
			list, _ := ops.([]any)
			if !slices.Contains(list, any("verify")) {
				t.Fatalf("kept a JWK whose key_ops %v lack verify", ops)
			}
		}
	}
	if !(&keySet{keys: keys}).sameKeys(set) {
		t.Fatal("the set's keys are not those of its JWKs one by one")
	}
}

// onNISTCurve checks an uncompressed point against y² = x³ - 3x + b.
func onNISTCurve(c elliptic.Curve, b []byte) bool {
	params := c.Params()
	size := (params.BitSize + 7) / 8
	if len(b) != 1+2*size || b[0] != 4 {
		return false
	}
	x := new(big.Int).SetBytes(b[1 : 1+size])
	y := new(big.Int).SetBytes(b[1+size:])
	p := params.P
	if x.Cmp(p) >= 0 || y.Cmp(p) >= 0 {
		return false
	}
	lhs := new(big.Int).Mul(y, y)
	lhs.Mod(lhs, p)
	rhs := new(big.Int).Mul(x, x)
	rhs.Mul(rhs, x)
	rhs.Sub(rhs, new(big.Int).Mul(big.NewInt(3), x))
	rhs.Add(rhs, params.B)
	rhs.Mod(rhs, p)
	return lhs.Cmp(rhs) == 0
}

// canonicalY reports whether the little-endian y of an Ed25519 encoding is
// below p = 2^255 - 19: below 0x7f..ffed.
func canonicalY(pub []byte) bool {
	y := slices.Clone(pub)
	y[31] &= 0x7f
	if y[31] != 0x7f {
		return true
	}
	for i := 30; i >= 1; i-- {
		if y[i] != 0xff {
			return true
		}
	}
	return y[0] < 0xed
}

// jwksSeeds are the fuzz seeds: the RFC example sets and each of their
// keys alone, Wycheproof's key sets and keys, the small-order and ROCA
// keys, and a few shapes of broken input.
func jwksSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	addSet := func(raw json.RawMessage) {
		seeds = append(seeds, asKeySet(raw))
		var doc struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if json.Unmarshal(raw, &doc) == nil && len(doc.Keys) > 1 {
			for _, k := range doc.Keys {
				seeds = append(seeds, asKeySet(k))
			}
		}
	}
	for _, ex := range rfcExamples(f) {
		addSet(ex.JWKS)
	}
	for _, file := range []string{"json_web_key_test.json", "json_web_signature_test.json"} {
		var wf wycheproofFile
		if err := json.Unmarshal(readTestdata(f, "wycheproof/"+file), &wf); err != nil {
			f.Fatal(err)
		}
		for _, g := range wf.TestGroups {
			for _, raw := range []json.RawMessage{g.Public, g.Private} {
				if len(raw) > 0 && string(raw) != "null" {
					addSet(raw)
				}
			}
		}
	}
	var ed struct {
		TestGroups []struct {
			PublicKeyJwk json.RawMessage `json:"publicKeyJwk"`
		} `json:"testGroups"`
	}
	if err := json.Unmarshal(readTestdata(f, "wycheproof/ed25519_test.json"), &ed); err != nil {
		f.Fatal(err)
	}
	for _, g := range ed.TestGroups[:8] {
		addSet(g.PublicKeyJwk)
	}
	for _, so := range smallOrderEd25519 {
		seeds = append(seeds, []byte(`{"keys":[`+okpJWK("small", mustHex(f, so.hex))+`]}`))
	}
	for _, m := range rocaModuli[2:3] {
		seeds = append(seeds, []byte(`{"keys":[{"kty":"RSA","kid":"roca","n":"`+b64.EncodeToString(mustHex(f, m.hex))+`","e":"AQAB"}]}`))
	}
	for _, s := range []string{
		``, `null`, `[]`, `{}`, `{"keys":null}`, `{"keys":{}}`, `{"keys":[null]}`, `{"keys":[[]]}`,
		`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","key_ops":["verify","verify"]}]}`,
		`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","use":"sig","key_ops":["encrypt"]}]}`,
		`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}`,
		`{"keys":[{"kty":"EC","crv":"P-256","x":"AQ","y":"AQ"}]}`,
		`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// FuzzParseJWKMembers builds one JWK from fuzzed members, so that the
// fuzzer explores key material and metadata rather than JSON syntax, and
// holds the loader to the same rules as FuzzParseJWKS.
func FuzzParseJWKMembers(f *testing.F) {
	f.Add("OKP", "Ed25519", mustB64(f, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"), []byte(nil), []byte(nil), []byte(nil), "sig", "", "verify", false)
	f.Add("RSA", "", []byte(nil), []byte(nil), mustB64(f, rfc7517RSAModulus), []byte{1, 0, 1}, "", "RS256", "", false)
	f.Add("RSA", "", []byte(nil), []byte(nil), mustHex(f, rocaMod03), []byte{1, 0, 1}, "sig", "RS256", "", false)
	f.Add("EC", "P-256", mustB64(f, "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4"), mustB64(f, "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"), []byte(nil), []byte(nil), "sig", "ES256", "sign,verify", false)
	f.Add("EC", "P-256", mustB64(f, "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4"), mustB64(f, "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"), []byte(nil), []byte(nil), "", "", "", true)
	for _, so := range smallOrderEd25519 {
		f.Add("OKP", "Ed25519", mustHex(f, so.hex), []byte(nil), []byte(nil), []byte(nil), "", "EdDSA", "", false)
	}
	f.Fuzz(func(t *testing.T, kty, crv string, x, y, n, e []byte, use, alg, keyOps string, private bool) {
		jwk := map[string]any{"kty": kty, "kid": "k"}
		for name, v := range map[string]string{"crv": crv, "use": use, "alg": alg} {
			if v != "" {
				jwk[name] = v
			}
		}
		for name, v := range map[string][]byte{"x": x, "y": y, "n": n, "e": e} {
			if v != nil {
				jwk[name] = b64.EncodeToString(v)
			}
		}
		if keyOps != "" {
			jwk["key_ops"] = strings.Split(keyOps, ",")
		}
		if private {
			jwk["d"] = "AQAB"
		}
		body, err := json.Marshal(map[string]any{"keys": []any{jwk}})
		if err != nil {
			return
		}
		set, _, err := parseJWKS(body)
		if err != nil {
			return
		}
		for _, k := range set.keys {
			checkKeptKey(t, k)
		}
		checkKeptJWKs(t, body, set)
	})
}
