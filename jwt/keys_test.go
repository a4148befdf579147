//lint:file-ignore SA1019 the tests build malformed ECDSA keys from raw coordinates, as a caller could

package jwt

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	stderrors "errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
)

// smallOrderEd25519 are the encodings of the eight points of small order
// of edwards25519 (the 8-torsion subgroup, as listed by curve25519-dalek's
// EIGHT_TORSION and libsodium), then their other encodings: the sign bit
// set on x = 0, and y ≥ p. crypto/ed25519 decodes every one of them.
var smallOrderEd25519 = []struct{ name, hex string }{
	{"identity (order 1)", "0100000000000000000000000000000000000000000000000000000000000000"},
	{"order 2 (y = -1)", "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
	{"order 4 (y = 0, x even)", "0000000000000000000000000000000000000000000000000000000000000000"},
	{"order 4 (y = 0, x odd)", "0000000000000000000000000000000000000000000000000000000000000080"},
	{"order 8 (first y, x even)", "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"},
	{"order 8 (first y, x odd)", "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"},
	{"order 8 (second y, x even)", "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"},
	{"order 8 (second y, x odd)", "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"},
	{"identity with the sign bit set", "0100000000000000000000000000000000000000000000000000000000000080"},
	{"order 2 with the sign bit set", "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"},
	{"y = p (order 4, x even)", "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
	{"y = p (order 4, x odd)", "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"},
	{"y = p+1 (identity)", "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
	{"y = p+1 with the sign bit set", "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"},
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// okpJWK is an Ed25519 JWK with the given kid.
func okpJWK(kid string, pub []byte) string {
	return fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","use":"sig","kid":%q,"x":%q}`, kid, b64.EncodeToString(pub))
}

// goodEd25519 is a freshly generated Ed25519 public key.
func goodEd25519(t testing.TB) ed25519.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// wantKeyRefused fails unless the static key is refused, at start-up, with
// cause, and the JWKS holding it with a good key keeps only the good key
// and reports the bad one by kid.
func wantKeyRefused(t *testing.T, pub any, jwk string, cause error) {
	t.Helper()
	logs := captureLogs(t)
	if _, err := staticKey(StaticKey{ID: "bad", Public: pub}); !stderrors.Is(err, cause) {
		t.Errorf("static key: err = %v, want %v", err, cause)
	}
	good := okpJWK("good", goodEd25519(t))
	set, refused, err := parseJWKS([]byte(`{"keys":[` + jwk + `,` + good + `]}`))
	if err != nil {
		t.Fatalf("JWKS with one bad and one good key refused whole: %v", err)
	}
	if len(set.keys) != 1 || set.keys[0].kid != "good" {
		t.Errorf("JWKS kept %d keys, want only the good one", len(set.keys))
	}
	if len(refused) != 1 || refused[0].kid != "bad" || !stderrors.Is(refused[0].err, cause) {
		t.Errorf("refused = %+v, want the key \"bad\" for %v", refused, cause)
	}
	if _, _, err := parseJWKS([]byte(`{"keys":[` + jwk + `]}`)); err == nil {
		t.Error("a JWKS whose only key is bad was accepted")
	}
	logs.want(t, slog.LevelError, "static key refused", "kid=bad")
}

func TestEd25519KeysOfSmallOrderAreRefused(t *testing.T) {
	for _, tt := range smallOrderEd25519 {
		t.Run(tt.name, func(t *testing.T) {
			pub := mustHex(t, tt.hex)
			_, err := staticKey(StaticKey{ID: "bad", Public: ed25519.PublicKey(pub)})
			if !stderrors.Is(err, errEdSmallOrder) && !stderrors.Is(err, errEdNonCanon) {
				t.Fatalf("static key: err = %v, want small order or non-canonical", err)
			}
			_, refused, _ := parseJWKS([]byte(`{"keys":[` + okpJWK("bad", pub) + `,` + okpJWK("good", goodEd25519(t)) + `]}`))
			if len(refused) != 1 || refused[0].kid != "bad" {
				t.Errorf("JWKS refused %+v, want the key \"bad\"", refused)
			}
		})
	}
	t.Run("canonical encodings are refused as small order", func(t *testing.T) {
		for _, tt := range smallOrderEd25519[:8] {
			wantKeyRefused(t, ed25519.PublicKey(mustHex(t, tt.hex)), okpJWK("bad", mustHex(t, tt.hex)), errEdSmallOrder)
		}
	})
}

func TestEd25519KeysNotCanonicallyEncodedAreRefused(t *testing.T) {
	// Every y from p to 2^255-1, with either sign: 38 encodings, each the
	// second encoding of a point (or of none).
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	for off := range 19 {
		for _, sign := range []byte{0, 0x80} {
			y := new(big.Int).Add(p, big.NewInt(int64(off)))
			var pub [32]byte
			y.FillBytes(pub[:])
			for i, j := 0, 31; i < j; i, j = i+1, j-1 {
				pub[i], pub[j] = pub[j], pub[i]
			}
			pub[31] |= sign
			t.Run(fmt.Sprintf("y=p+%d sign=%d", off, sign>>7), func(t *testing.T) {
				wantKeyRefused(t, ed25519.PublicKey(pub[:]), okpJWK("bad", pub[:]), errEdNonCanon)
			})
		}
	}
	t.Run("identity with the sign bit set", func(t *testing.T) {
		pub := mustHex(t, smallOrderEd25519[8].hex)
		wantKeyRefused(t, ed25519.PublicKey(pub), okpJWK("bad", pub), errEdNonCanon)
	})
	t.Run("not a point: the set is refused, as for any key material that is no key", func(t *testing.T) {
		pub := make([]byte, 32)
		pub[0] = 2 // y = 2 has no x
		if _, err := staticKey(StaticKey{Public: ed25519.PublicKey(pub)}); !stderrors.Is(err, errEdNotOnCurve) {
			t.Errorf("static key: err = %v", err)
		}
		_, _, err := parseJWKS([]byte(`{"keys":[` + okpJWK("bad", pub) + `,` + okpJWK("good", goodEd25519(t)) + `]}`))
		if !stderrors.Is(err, errEdNotOnCurve) {
			t.Errorf("JWKS: err = %v, want the set refused", err)
		}
	})
}

// TestEd25519ForgeryUnderTheIdentityKeyIsRefused shows the attack the load
// checks stop: the identity point verifies R = identity, S = 0 for every
// message, and crypto/ed25519 does not refuse it.
func TestEd25519ForgeryUnderTheIdentityKeyIsRefused(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	identity := mustHex(t, smallOrderEd25519[0].hex)
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(iss.JWKS(), &doc); err != nil {
		t.Fatal(err)
	}
	doc.Keys = append(doc.Keys, json.RawMessage(okpJWK("evil", identity)))
	body, _ := json.Marshal(doc)
	iss.SetBody(body)
	logs := captureLogs(t)
	v, rec := newVerifier(t, clock, Config{Issuers: []Issuer{jwksIssuer(iss)}})
	if rec.count() != 0 {
		t.Fatalf("the good keys were refused with the bad one: %v", rec.errs)
	}

	header := b64.EncodeToString([]byte(`{"alg":"EdDSA","kid":"evil","typ":"JWT"}`))
	payload := b64.EncodeToString(fmt.Appendf(nil, `{"iss":%q,"aud":%q,"sub":"admin","exp":%d}`, iss.URL(), testAudience, clock.Now().Add(time.Hour).Unix()))
	forged := make([]byte, 64)
	forged[0] = 1 // R = the identity's encoding, S = 0
	if !ed25519.Verify(identity, []byte(header+"."+payload), forged) {
		t.Log("crypto/ed25519 now refuses the forgery itself")
	}
	p, err := v.Verify(context.Background(), header+"."+payload+"."+b64.EncodeToString(forged))
	wantRefusal(t, p, err, tgerrors.InvalidToken, errJWTNoKey)
	mustVerify(t, v, iss.Mint(claims(nil)))
	logs.want(t, slog.LevelError, `kid=evil`, "small order")
}

func TestValidEd25519KeysAreKept(t *testing.T) {
	keys := map[string][]byte{
		"RFC 8037 A.2": mustB64(t, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
		// The base point B, of prime order.
		"base point": mustHex(t, "5866666666666666666666666666666666666666666666666666666666666666"),
	}
	for i := range 64 {
		keys[fmt.Sprint("generated ", i)] = goodEd25519(t)
	}
	for name, pub := range keys {
		if _, err := staticKey(StaticKey{Public: ed25519.PublicKey(pub)}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ROCA test moduli from roca-detect's test data (crocs-muni/roca,
// roca/tests/data): modNN.txt and pubkey03.pem, the last also Wycheproof's
// jws_rsa_roca_key. mod06 and mod07 are mod03 with one digit changed.
var rocaModuli = []struct {
	name string
	hex  string
	roca bool
}{
	{"mod01 (512 bits)", "944e13208a280c37efc31c3114485e590192adbb8e11c87cad60cdef0037ce99278330d3f471a2538fa667802ed2a3c44a8b7dea826e888d0aa341fd664f7fa7", true},
	{"mod02 (512 bits)", "a23475d6b86e7deb1e1483747c0e1aaa1390f24dcbc0d05399d025c985861601d91ba7a1ce5dd9d9721fac7b65cbf73f9fa39399f6cbf33edc6e094f9eda639f", true},
	{"mod03 (2048 bits)", rocaMod03, true},
	{"mod08 (1028 bits)", "01db349e1f58f5d41f65aa5b0ffa6ae0cea80de6c170b2b4abf9c358d79494ca59cab008f5ee92759b91d497e2131701047f953935a163e91db5460c82566f4df0c05bca02a8576f7c4e916b274e2f307b56fc8a20ad452b1b54d3924726a3b2329da882c7b8e102379dfe7a8c6b01d62e7ff0fd58e1e9822f6e32b5b0486561fb", true},
	{"mod09 (4096 bits)", "c39a928060db513091b604eadad719ed94e246de8fe15fb76efab5cfabbc3fc5486fe2ef2a5a5a8472f0c5be089edec071fb284df4467fa1fa6c8f0b013d3173fe636744666289bf67b5c998c87b59015d94bb9c20d30a70cfe275e42fd3c6f44d4c5252f9c6b6803f92afd928153bdb90ef08ede934c076f33543f9a1c362130929b9a1324c5ebee6831c251c48a7dee24d75ac538ce9a58d7ff09c12a5d772b6c33f4265a4e4830bd73ad221d24d4d3f092e24279c15fc1d10ca69561f4f071313c86b11ab36a5dd28df392f581834eecfdc9e183a466198e33cf01d273bd41d4b7e288cc66f24eba04676bd2090f6f73830336a317bc2d423b558b9d8f632e12af7b0e7fc9bdb69282e81fdf41a68cf4e85f01fc343dfe52a3ad01f67459d380165159e1209ef1ce4ecd26648e061faf0896551f7f1f92d6b6a19af0ab7f1f092d7e168bcec0ee478b8618489a8967a71e5e0a5c197662d8e9756f090a177109d4a34ae20a18c5629efea5ca66623960fc325f779cdae891a7ec051f00e837b8f2fb9fd19f6a35832ca0e5ce8375972c42a308f7d5ca0434022c131874087e826ed737994e46fbe44f5f1e908934f6033e6851ebd05447dddbaa51c0671849cafd3a503cdc150101914edf33b140c168c3dbea4791e74ea619ab1b31c90691de1d425b746b222a2b26ed54222cbcaf27a054f9f66f77be6466198c33e37dd", true},
	{"pubkey03 (2049 bits)", rocaPubkey03, true},
	{"mod04", "af659676197f1db06da7ac111a0a0ec175b8b7ef07192ffcd1f6b854c327785f1a7fd3db7da45cd4a31b2b2e5ce0d823a68e28c8adf1747316becce1fe5768064039ad2062260c8d1a34e0586dce9bc13090fcc9fb8b8b2c08ed3ae8d61b29818a669689a7d9c1dab053b557fb8d3f9c44faad3e18c55e739b00d3c9126558bc8e980cd2af377126ef5b1374136774b8bd370e3c1c149db395c8f99696b628b105946fea20106fe24d103ac062661a9248e8c3f628e00b308d33953aabe555132e218e74ef4b578716b4fe7cf340e8e604a319bf6e9951e1942601d34291032db54999d09e5d036dde3544ad35256bbb97d5e3fffd38166c21eae9199548853b", false},
	{"mod05", "ba68fc5fbb606c4d428ab98b355d66214db4f7e475b5f7ffddc349c73f7d659965121ab16a4014e6c465c111d850205853d113f712127e4a230aa97f481eed6410f6c345f48e25fb81c42ec6815dc35cdd839e0de91fb2bec848d0910fa77e2c31f99ec9bcc7ed167812bd724318b0adf492d6b47c5ce050184e877ea64045f9501bf70569cffd102db7299f49e9c00222af9115d0aada967dfe759b7e4576e85c3a4ff594039231b90b448b90c3236083bcf819bc318d53a2018ec9b401f102ba9ee13dde592a42b032df136689d9c5619db55d519853a422d3100624d2d9e478218375f460c26930eda8cd0d947e58ffe9b7be2445356deaed988223e3ed1d", false},
	{"mod06 (mod03, first digit changed)", "8" + rocaMod03[1:], false},
	{"mod07 (mod03, last byte changed)", rocaMod03[:len(rocaMod03)-2] + "21", false},
}

const rocaMod03 = "9dcd7420e420c270a68060eb8b5aa7457a9f6648f86fafed2775cc1f79ae962f1e63f1b9e51c55f9ea6fdc7332e9b0058c9ff2eb1fc89855029cf6aafe21e689feb38ac9ffb12f1ce371bb5d0e9aae64161abce74b4244bf68f1edb4411f756a097c8929c14740245ea355f8332d1aa36bb50c7dcb4505da8de02e4e53d38f8df06097da7524df0df93db48eac8cc4af2d3a16257eb2b2adca6ba464e5974fa92550d31b1babf161e7692d00b86e3dd886ecab4abfbe1a8f8cc263ff4af55cdb45f4249a5193925f5e983d762f0b6800943eb0267b08f42ed311ce1f5c86eacbc8ce4d3cb7a2fee1ef5641423a1cf4114e5ecf50034a60a412523af9e6f4aa11"

const rocaPubkey03 = "01a9c5a687db8fb2a30f82dff8dda154c291ef27b04b25e185b8ab20c4c6a5f604859fe59ede54a0af7c0e7288800ad7193bb731a5bf1e1170d7a1c66930d41ea3eb21dedf7b8af5d42a91c34f72045b96efd57cb182301ddcc26967e5508e9ab889986d57e837dfe70f99fc37c498f43c17c3b9b064cf704443d7a033e03a821697aabf30fb29ee7d33b3767965a89058e3b39754bd3a1c007d28a23b0cfa79f9d711ac6e4c4b4f77b0634b1ecd68591af03c7d53b62a5f2d91163d4ef4f8f26831ae461ed85ec5f788c5123ffc12c87420fdcfea1d1b4a52c3521824fb3998348739b62a986d8e76b2289bc2eb8bc06d138147851b83a07183d210559f906321"

// rocaFakes pass the residue fingerprint for every prime but are no
// product of Infineon primes: roca-detect's test_fake_mods, which its
// discrete-logarithm detector, and rocaFingerprint, must not flag.
var rocaFakes = []string{
	"72414128973967872688332736535017614208620368242015797102796086827882754006260204061799547004983731426777596445658889886861027045033760014948048067467947960318205453778973975867532910489227970143091184725760290172935872752222320334100097730483600892686353719855397381316384244147860260153198611313067061116317",
	"138345973265163614694352477004469191286459111070564516299381495188624946671065451924677704628892476011773201612117597303315530745738015579159106259811204610647347662150159814774894784524366138220226431598991937057442020694466365850170057813627445465881816985939192840583168136876337135351417253708364245923133",
	"60828061238058485055546209519792949600733446820687109700021551748017165461584398468231416589035982737511901116540885252089750919566836183252857475484338913841291095222387779067564971983760619814471104385614285949705697261702933899278537712383849527252611987939947273446907728942539157463443880598175266703887",
	"89537174583470428126368559122733093792771267470145172261204043737374783295746735770977275377863486022234354929860172558745137290320682223277990399066906105916137221611218740752167456538787695936927885201842306174187254104613077236292789788064415254034851612157179926431228950237250716554645306298514263908811",
	"106012262050781200106909327696665817682864459575156325008493049499578896429709338134583432679663875229243561266610327817994340312544432988100581205278527652776797129380732775139010348828146830433114148695545628251479471386655045041620711043660854155633665634387716779804052874716264079804365681200926368878541",
}

// rocaPrints are roca-detect's published residue fingerprints: bit r of
// print i is set when r is a power of 65537 modulo rocaPrimes[i].
var rocaPrints = []string{"6", "30", "126", "1026", "5658", "107286", "199410", "8388606", "536870910", "2147483646",
	"67109890", "2199023255550", "8796093022206", "140737488355326", "5310023542746834", "576460752303423486",
	"1455791217086302986", "147573952589676412926", "20052041432995567486", "6041388139249378920330",
	"207530445072488465666", "9671406556917033397649406", "618970019642690137449562110",
	"79228162521181866724264247298", "2535301200456458802993406410750", "1760368345969468176824550810518",
	"50079290986288516948354744811034", "473022961816146413042658758988474", "10384593717069655257060992658440190",
	"144390480366845522447407333004847678774", "2722258935367507707706996859454145691646",
	"174224571863520493293247799005065324265470", "696898287454081973172991196020261297061886",
	"713623846352979940529142984724747568191373310", "1800793591454480341970779146165214289059119882",
	"126304807362733370595828809000324029340048915994", "11692013098647223345629478661730264157247460343806",
	"187072209578355573530071658587684226515959365500926"}

func decimal(t testing.TB, s string) *big.Int {
	t.Helper()
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("bad number %q", s)
	}
	return n
}

// hasPublishedPrint is roca-detect's residue test, with its own numbers.
func hasPublishedPrint(t testing.TB, n *big.Int) bool {
	for i, p := range rocaPrimes {
		r := new(big.Int).Mod(n, big.NewInt(p))
		if decimal(t, rocaPrints[i]).Bit(int(r.Int64())) == 0 {
			return false
		}
	}
	return true
}

func TestROCASubgroupsAreThePublishedFingerprints(t *testing.T) {
	if len(rocaPrints) != len(rocaPrimes) {
		t.Fatalf("%d prints for %d primes", len(rocaPrints), len(rocaPrimes))
	}
	for i, rp := range rocaTable() {
		mask := new(big.Int)
		for r, l := range rp.logs {
			if l >= 0 {
				mask.SetBit(mask, r, 1)
			}
		}
		if want := decimal(t, rocaPrints[i]); mask.Cmp(want) != 0 {
			t.Errorf("prime %d: residues of 65537 %v, want the published %v", rp.p, mask, want)
		}
	}
}

func TestROCAFingerprint(t *testing.T) {
	for _, tt := range rocaModuli {
		t.Run(tt.name, func(t *testing.T) {
			n := new(big.Int).SetBytes(mustHex(t, tt.hex))
			if got := rocaFingerprint(n); got != tt.roca {
				t.Errorf("rocaFingerprint = %v, want %v", got, tt.roca)
			}
			if got := hasPublishedPrint(t, n); got != tt.roca {
				t.Errorf("published fingerprint = %v, want %v", got, tt.roca)
			}
		})
	}
	for i, s := range rocaFakes {
		n := decimal(t, s)
		if !hasPublishedPrint(t, n) {
			t.Errorf("fake %d: no residue fingerprint; not the hard case it should be", i)
		}
		if rocaFingerprint(n) {
			t.Errorf("fake %d: flagged, though 65537 generates no power equal to it", i)
		}
	}
}

func TestRSAKeysWithTheROCAFingerprintAreRefused(t *testing.T) {
	for _, tt := range rocaModuli {
		n := new(big.Int).SetBytes(mustHex(t, tt.hex))
		if !tt.roca || n.BitLen() < minRSABits {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			jwk := fmt.Sprintf(`{"kty":"RSA","use":"sig","alg":"RS256","kid":"bad","n":%q,"e":"AQAB"}`, b64.EncodeToString(n.Bytes()))
			wantKeyRefused(t, &rsa.PublicKey{N: n, E: 65537}, jwk, errRSAROCA)
		})
	}
}

var (
	testPrimeOnce sync.Once
	testPrime     *big.Int
)

// prime1025 is a random prime of 1025 bits, made once per test binary:
// its square is a modulus of 2049 or 2050 bits.
func prime1025(t testing.TB) *big.Int {
	testPrimeOnce.Do(func() {
		p, err := rand.Prime(rand.Reader, 1025)
		if err != nil {
			t.Fatal(err)
		}
		testPrime = p
	})
	return testPrime
}

func TestRSAModuliAnyoneCanFactorAreRefused(t *testing.T) {
	good := new(big.Int).SetBytes(mustB64(t, rfc7517RSAModulus))
	p := prime1025(t)
	tests := []struct {
		name string
		n    *big.Int
	}{
		{"even", new(big.Int).Add(good, big.NewInt(1))},
		{"a factor of 3", new(big.Int).Mul(good, big.NewInt(3))},
		{"a factor of 16381", new(big.Int).Mul(good, big.NewInt(16381))},
		{"a square", new(big.Int).Mul(p, p)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jwk := fmt.Sprintf(`{"kty":"RSA","use":"sig","alg":"RS256","kid":"bad","n":%q,"e":"AQAB"}`, b64.EncodeToString(tt.n.Bytes()))
			wantKeyRefused(t, &rsa.PublicKey{N: tt.n, E: 65537}, jwk, errRSAFactorable)
		})
	}
	t.Run("the key it is made from passes", func(t *testing.T) {
		if err := checkRSA(&rsa.PublicKey{N: good, E: 65537}); err != nil {
			t.Fatal(err)
		}
	})
}

// rfc7517RSAModulus is n of the RSA key of RFC 7517 Appendix A.1.
const rfc7517RSAModulus = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"

func TestRSAExponentsCryptoRSACannotUseAreRefused(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []int{-3, 0, 1, 2, 65536, 1<<31 + 1} {
		if _, err := staticKey(StaticKey{Public: &rsa.PublicKey{N: k.N, E: e}}); err == nil {
			t.Errorf("exponent %d accepted", e)
		}
	}
	if _, err := staticKey(StaticKey{Public: &k.PublicKey}); err != nil {
		t.Errorf("a generated key was refused: %v", err)
	}
}

func TestRSAModuliOver16384BitsAreRefused(t *testing.T) {
	n := new(big.Int).Lsh(big.NewInt(1), maxRSABits)
	n.Add(n, big.NewInt(16411)) // odd, no factor below 2^14, 16385 bits
	if _, err := staticKey(StaticKey{Public: &rsa.PublicKey{N: n, E: 65537}}); err == nil || !strings.Contains(err.Error(), "longer than 16384 bits") {
		t.Errorf("err = %v, want the size refusal", err)
	}
}

func TestECKeysOffTheirCurveAreRefused(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p := elliptic.P256().Params().P
	tests := []struct {
		name string
		key  *ecdsa.PublicKey
	}{
		{"(1, 1)", &ecdsa.PublicKey{Curve: elliptic.P256(), X: big.NewInt(1), Y: big.NewInt(1)}},
		{"the point at infinity as (0, 0)", &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int), Y: new(big.Int)}},
		{"x + p", &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).Add(k.X, p), Y: k.Y}},
		{"y negated wrongly", &ecdsa.PublicKey{Curve: elliptic.P256(), X: k.X, Y: new(big.Int).Neg(k.Y)}},
		{"no x", &ecdsa.PublicKey{Curve: elliptic.P256(), Y: k.Y}},
		{"no coordinates", &ecdsa.PublicKey{Curve: elliptic.P256()}},
		{"a P-256 point called P-384", &ecdsa.PublicKey{Curve: elliptic.P384(), X: k.X, Y: k.Y}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := staticKey(StaticKey{ID: "bad", Public: tt.key}); !stderrors.Is(err, errECPoint) {
				t.Errorf("err = %v, want %v", err, errECPoint)
			}
		})
	}
	if _, err := staticKey(StaticKey{Public: &k.PublicKey}); err != nil {
		t.Errorf("a generated key was refused: %v", err)
	}
}

func TestStaticKeyRefusalIsLoggedWithItsKID(t *testing.T) {
	logs := captureLogs(t)
	_, err := NewVerifier(context.Background(), Config{Issuers: []Issuer{{
		Issuer: "https://issuer.test", Audiences: []string{testAudience}, Algorithms: []string{"EdDSA"},
		Keys: []StaticKey{{ID: "identity-key", Public: ed25519.PublicKey(mustHex(t, smallOrderEd25519[0].hex))}},
	}}})
	if err == nil || !strings.Contains(err.Error(), "identity-key") || !stderrors.Is(err, errEdSmallOrder) {
		t.Fatalf("err = %v, want the small-order refusal naming the key", err)
	}
	logs.want(t, slog.LevelError, "kid=identity-key", "small order")
}

func TestStaticKeysAreCopiedAtStartUp(t *testing.T) {
	clock := newTestClock()
	iss := newIssuer(t, clock)
	pub := ed25519.PublicKey(slicesClone(iss.PublicKey("EdDSA").(ed25519.PublicKey)))
	v, _ := newVerifier(t, clock, Config{Issuers: []Issuer{{
		Issuer: iss.URL(), Audiences: []string{testAudience}, Algorithms: []string{"EdDSA"},
		Keys: []StaticKey{{ID: iss.KID("EdDSA"), Public: pub}},
	}}})
	for i := range pub {
		pub[i] = 0 // the caller reuses its buffer
	}
	mustVerify(t, v, iss.Mint(claims(nil), authtest.WithAlg(authtest.EdDSA)))
}

func slicesClone(b []byte) []byte { return append([]byte(nil), b...) }

// capturedLogs is slog.Default's output while a test runs.
type capturedLogs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *capturedLogs) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *capturedLogs) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func captureLogs(t *testing.T) *capturedLogs {
	c := &capturedLogs{}
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(c, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	return c
}

// want fails unless one line at level holds every part.
func (c *capturedLogs) want(t *testing.T, level slog.Level, parts ...string) {
	t.Helper()
next:
	for line := range strings.SplitSeq(c.String(), "\n") {
		if !strings.Contains(line, "level="+level.String()) {
			continue
		}
		for _, p := range parts {
			if !strings.Contains(line, p) {
				continue next
			}
		}
		return
	}
	t.Errorf("no %s log line with %q in:\n%s", level, parts, c.String())
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rfcExamples are the example key sets of testdata/jwk/rfc_examples.json.
type rfcExample struct {
	Name     string          `json:"name"`
	Accepted []string        `json:"accepted"`
	JWKS     json.RawMessage `json:"jwks"`
}

func rfcExamples(t testing.TB) []rfcExample {
	var doc struct {
		Sets []rfcExample `json:"sets"`
	}
	if err := json.Unmarshal(readTestdata(t, "jwk/rfc_examples.json"), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Sets
}

func TestRFCExampleKeySets(t *testing.T) {
	for _, ex := range rfcExamples(t) {
		t.Run(ex.Name, func(t *testing.T) {
			set, _, err := parseJWKS(ex.JWKS)
			if len(ex.Accepted) == 0 {
				if err == nil {
					t.Fatalf("accepted %d keys, want the set refused", len(set.keys))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var kids []string
			for _, k := range set.keys {
				kids = append(kids, k.kid)
			}
			if fmt.Sprint(kids) != fmt.Sprint(ex.Accepted) {
				t.Errorf("kept %q, want %q", kids, ex.Accepted)
			}
		})
	}
	t.Run("RFC 8037 A.4 signature verifies with the A.2 key", func(t *testing.T) {
		set, _, err := parseJWKS(rfcExamples(t)[5].JWKS)
		if err != nil {
			t.Fatal(err)
		}
		const jws = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
		if !verifyCompactWith(t, set, jws) {
			t.Error("RFC 8037 A.4 does not verify")
		}
	})
	t.Run("RFC 7517 A.2 RSA private key matches the A.1 public key", func(t *testing.T) {
		var doc struct {
			Keys []map[string]string `json:"keys"`
		}
		if err := json.Unmarshal(rfcExamples(t)[1].JWKS, &doc); err != nil {
			t.Fatal(err)
		}
		k := doc.Keys[1]
		n := new(big.Int).SetBytes(mustB64(t, k["n"]))
		pq := new(big.Int).Mul(new(big.Int).SetBytes(mustB64(t, k["p"])), new(big.Int).SetBytes(mustB64(t, k["q"])))
		if n.Cmp(pq) != 0 {
			t.Error("n != p·q: the example was copied wrongly")
		}
		d := new(big.Int).SetBytes(mustB64(t, k["d"]))
		m := big.NewInt(5)
		if c := new(big.Int).Exp(m, big.NewInt(65537), n); c.Exp(c, d, n).Cmp(m) != 0 {
			t.Error("d does not invert e: the example was copied wrongly")
		}
	})
}

// verifyCompactWith reports whether the compact JWS verifies with a key of
// set, as the verifier would pick it by kid and alg.
func verifyCompactWith(t testing.TB, set *keySet, jws string) bool {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return false
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return false
	}
	var h map[string]any
	if json.Unmarshal(hb, &h) != nil {
		return false
	}
	alg, _ := h["alg"].(string)
	kid, hasKID := h["kid"].(string)
	a := jwsAlgorithms[alg]
	if a == nil || a.family == familyHMAC {
		return false
	}
	k := set.find(kid, hasKID, a)
	if k == nil {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	return verifySignature(a, k, parts[0]+"."+parts[1], sig)
}
