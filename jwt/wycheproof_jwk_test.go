package jwt

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
)

// Table tests from Project Wycheproof (testdata/wycheproof, see its
// README): every key set a vector publishes is loaded as a JWKS would be,
// and every compact JWS of the vector must verify with it exactly when the
// vector says "valid".

type wycheproofFile struct {
	TestGroups []struct {
		Comment string          `json:"comment"`
		Public  json.RawMessage `json:"public"`
		Private json.RawMessage `json:"private"`
		Tests   []struct {
			TcID    int             `json:"tcId"`
			Comment string          `json:"comment"`
			JWS     json.RawMessage `json:"jws"`
			Result  string          `json:"result"`
			Flags   []string        `json:"flags"`
		} `json:"tests"`
	} `json:"testGroups"`
}

// wycheproofStricter lists the vectors Wycheproof calls valid that tollgate
// refuses on purpose, and why.
var wycheproofStricter = map[string]string{
	// RFC 7520 examples whose key Wycheproof marks "alg": "ES521", a name no
	// JWS algorithm has (ES512 is P-521's): a key limited to an unknown
	// algorithm verifies nothing.
	"json_web_signature_test.json/rfc7520WithKeyOps/Figure27": `key "alg" ES521 is no JWS algorithm`,
	"json_web_signature_test.json/rfc7520/Figure27":           `key "alg" ES521 is no JWS algorithm`,
	// RFC 7520 Figure 20 signs with PS384, under a key Wycheproof marks
	// "alg": "PS256": a key verifies only its own alg (RFC 7517 §4.4).
	"json_web_signature_test.json/rfc7520WithKeyOps/Figure20": `token alg PS384, key alg PS256`,
	"json_web_signature_test.json/rfc7520/Figure20":           `token alg PS384, key alg PS256`,
}

// asKeySet wraps a single JWK in a set; a set stays as it is.
func asKeySet(raw json.RawMessage) []byte {
	var probe map[string]json.RawMessage
	if json.Unmarshal(raw, &probe) == nil {
		if _, ok := probe["keys"]; ok {
			return raw
		}
	}
	return []byte(`{"keys":[` + string(raw) + `]}`)
}

func TestWycheproofJSONWebKeyAndSignatureVectors(t *testing.T) {
	for _, file := range []string{"json_web_key_test.json", "json_web_signature_test.json"} {
		var f wycheproofFile
		if err := json.Unmarshal(readTestdata(t, "wycheproof/"+file), &f); err != nil {
			t.Fatal(err)
		}
		checked := 0
		for _, g := range f.TestGroups {
			if len(g.Public) == 0 || string(g.Public) == "null" {
				// Symmetric keys only: a JWKS never supplies them.
				if len(g.Private) > 0 {
					if _, _, err := parseJWKS(asKeySet(g.Private)); err == nil {
						t.Errorf("%s/%s: a set of secret keys was accepted", file, g.Comment)
					}
				}
				continue
			}
			set, _, loadErr := parseJWKS(asKeySet(g.Public))
			for _, tc := range g.Tests {
				var jws string
				if json.Unmarshal(tc.JWS, &jws) != nil {
					continue // JSON serialization: for the token decoder
				}
				name := fmt.Sprintf("%s/%s/%s", file, g.Comment, tc.Comment)
				t.Run(fmt.Sprintf("%s/tc%d", name, tc.TcID), func(t *testing.T) {
					verified := loadErr == nil && verifyCompactWith(t, set, jws)
					want := tc.Result == "valid"
					if why, ok := wycheproofStricter[name]; ok {
						if verified {
							t.Errorf("verified, though tollgate refuses it: %s", why)
						}
						return
					}
					if verified != want {
						t.Errorf("verified = %v, want %v (result %s, flags %v, key set error %v)", verified, want, tc.Result, tc.Flags, loadErr)
					}
				})
				checked++
			}
		}
		if checked == 0 {
			t.Errorf("%s: no vector checked", file)
		}
	}
}

// TestWycheproofJWKRocaKeyIsRefused names the vector the ROCA check is for.
func TestWycheproofJWKRocaKeyIsRefused(t *testing.T) {
	var f wycheproofFile
	if err := json.Unmarshal(readTestdata(t, "wycheproof/json_web_key_test.json"), &f); err != nil {
		t.Fatal(err)
	}
	for _, g := range f.TestGroups {
		if g.Comment != "jws_rsa_roca_key" {
			continue
		}
		_, _, err := parseJWKS(g.Public)
		if err == nil {
			t.Fatal("the ROCA key set was accepted")
		}
		return
	}
	t.Fatal("no jws_rsa_roca_key group")
}

func TestWycheproofEd25519KeysLoadAndVerify(t *testing.T) {
	var f struct {
		TestGroups []struct {
			PublicKey struct {
				PK string `json:"pk"`
			} `json:"publicKey"`
			PublicKeyJwk json.RawMessage `json:"publicKeyJwk"`
			Tests        []struct {
				TcID   int    `json:"tcId"`
				Msg    string `json:"msg"`
				Sig    string `json:"sig"`
				Result string `json:"result"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	if err := json.Unmarshal(readTestdata(t, "wycheproof/ed25519_test.json"), &f); err != nil {
		t.Fatal(err)
	}
	if len(f.TestGroups) == 0 {
		t.Fatal("no test groups")
	}
	for i, g := range f.TestGroups {
		set, refused, err := parseJWKS(asKeySet(g.PublicKeyJwk))
		if err != nil || len(refused) != 0 || len(set.keys) != 1 {
			t.Errorf("group %d: key %s not loaded: %v %v", i, g.PublicKey.PK, err, refused)
			continue
		}
		k := set.keys[0]
		if hex.EncodeToString(k.ed) != g.PublicKey.PK {
			t.Errorf("group %d: loaded %x, want %s", i, []byte(k.ed), g.PublicKey.PK)
		}
		for _, tc := range g.Tests {
			msg, _ := hex.DecodeString(tc.Msg)
			sig, _ := hex.DecodeString(tc.Sig)
			if got := len(sig) == ed25519.SignatureSize && verifySignature(jwsAlgorithms["EdDSA"], k, string(msg), sig); got != (tc.Result == "valid") {
				t.Errorf("tc %d: verified = %v, result %s", tc.TcID, got, tc.Result)
			}
		}
	}
}
