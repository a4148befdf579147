package revocation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"

	"github.com/tollgate/tollgate/principal"
)

var t0 = time.Unix(1_900_000_000, 0)

const (
	jwt    = "eyJhbGciOiJSUzI1NiJ9.eyJqdGkiOiJqdGktMSJ9.c2ln"
	opaque = "2YotnFZFEjr1zCsicMWpAA"
)

var (
	jwtPrincipal    = principal.New(principal.Fields{Subject: "u1", TokenID: "jti-1"})
	opaquePrincipal = principal.New(principal.Fields{Subject: "u1"})
)

func TestMemoryRevocation(t *testing.T) {
	tests := []struct {
		name    string
		revoke  func(m *Memory) error
		advance time.Duration
		token   string
		p       *principal.Principal
		want    bool
	}{
		{"nothing revoked", func(m *Memory) error { return nil }, 0, jwt, jwtPrincipal, false},
		{"JWT revoked by its jti", func(m *Memory) error { return m.RevokeID("jti-1", t0.Add(time.Hour)) }, 0, jwt, jwtPrincipal, true},
		{"another jti is not revoked", func(m *Memory) error { return m.RevokeID("jti-2", t0.Add(time.Hour)) }, 0, jwt, jwtPrincipal, false},
		{"opaque token revoked by its hash", func(m *Memory) error { return m.RevokeToken(opaque, t0.Add(time.Hour)) }, 0, opaque, opaquePrincipal, true},
		{"another opaque token is not revoked", func(m *Memory) error { return m.RevokeToken("other", t0.Add(time.Hour)) }, 0, opaque, opaquePrincipal, false},
		{"JWT revoked by its hash despite its jti", func(m *Memory) error { return m.RevokeToken(jwt, t0.Add(time.Hour)) }, 0, jwt, jwtPrincipal, true},
		{"revoked by hash with no principal", func(m *Memory) error { return m.RevokeToken(opaque, t0.Add(time.Hour)) }, 0, opaque, nil, true},
		{"a token without jti is not matched by an ID", func(m *Memory) error { return m.RevokeID("jti-1", t0.Add(time.Hour)) }, 0, opaque, opaquePrincipal, false},
		{"revocation holds through the leeway past until", func(m *Memory) error { return m.RevokeID("jti-1", t0.Add(time.Hour)) }, time.Hour + DefaultLeeway - time.Nanosecond, jwt, jwtPrincipal, true},
		{"revocation ends at until plus the leeway", func(m *Memory) error { return m.RevokeID("jti-1", t0.Add(time.Hour)) }, time.Hour + DefaultLeeway, jwt, jwtPrincipal, false},
		{"token revocation holds through the leeway", func(m *Memory) error { return m.RevokeToken(opaque, t0.Add(time.Hour)) }, time.Hour + DefaultLeeway - time.Nanosecond, opaque, opaquePrincipal, true},
		{"token revocation ends at until plus the leeway", func(m *Memory) error { return m.RevokeToken(opaque, t0.Add(time.Hour)) }, time.Hour + DefaultLeeway, opaque, opaquePrincipal, false},
		{"zero until revokes for ever", func(m *Memory) error { return m.RevokeToken(opaque, time.Time{}) }, 100 * 365 * 24 * time.Hour, opaque, opaquePrincipal, true},
		{"until past but inside the leeway still revokes", func(m *Memory) error { return m.RevokeID("jti-1", t0.Add(-time.Second)) }, 0, jwt, jwtPrincipal, true},
		{"until past by the leeway does nothing", func(m *Memory) error { return m.RevokeID("jti-1", t0.Add(-DefaultLeeway)) }, 0, jwt, jwtPrincipal, false},
		{"a later until extends a revocation", func(m *Memory) error {
			_ = m.RevokeID("jti-1", t0.Add(time.Minute))
			return m.RevokeID("jti-1", t0.Add(time.Hour))
		}, 30 * time.Minute, jwt, jwtPrincipal, true},
		{"an earlier until does not shorten one", func(m *Memory) error {
			_ = m.RevokeID("jti-1", t0.Add(time.Hour))
			return m.RevokeID("jti-1", t0.Add(time.Minute))
		}, 30 * time.Minute, jwt, jwtPrincipal, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := authtest.NewClock(t0)
			m := NewMemory(MemoryConfig{Now: clk.Now})
			if err := tt.revoke(m); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			clk.Advance(tt.advance)
			got, err := m.Revoked(context.Background(), tt.token, tt.p)
			if err != nil || got != tt.want {
				t.Errorf("Revoked = %v, %v; want %v, nil", got, err, tt.want)
			}
		})
	}
}

func TestMemoryLeewayIsConfigurable(t *testing.T) {
	tests := []struct {
		name    string
		leeway  time.Duration
		advance time.Duration
		want    bool
	}{
		{"zero is the default", 0, time.Hour + DefaultLeeway - time.Second, true},
		{"a longer leeway holds longer", 10 * time.Minute, time.Hour + 10*time.Minute - time.Second, true},
		{"a longer leeway ends", 10 * time.Minute, time.Hour + 10*time.Minute, false},
		{"negative means none", -1, time.Hour, false},
		{"negative means none, until then", -1, time.Hour - time.Nanosecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := authtest.NewClock(t0)
			m := NewMemory(MemoryConfig{Leeway: tt.leeway, Now: clk.Now})
			if err := m.RevokeID("jti-1", t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			clk.Advance(tt.advance)
			if got, err := m.Revoked(context.Background(), jwt, jwtPrincipal); err != nil || got != tt.want {
				t.Errorf("Revoked = %v, %v; want %v, nil", got, err, tt.want)
			}
		})
	}
}

func TestMemoryRefusesTheEmptyID(t *testing.T) {
	m := NewMemory(MemoryConfig{})
	if err := m.RevokeID("", time.Time{}); err == nil {
		t.Fatal("RevokeID(\"\") succeeded; it would match no token and hide a bug")
	}
}

func TestAFullMemoryRefusesRatherThanForgets(t *testing.T) {
	clk := authtest.NewClock(t0)
	m := NewMemory(MemoryConfig{MaxEntries: 2, Now: clk.Now})
	if err := m.RevokeID("a", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := m.RevokeToken(opaque, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := m.RevokeID("c", t0.Add(time.Hour)); err != ErrFull {
		t.Fatalf("third revocation: %v, want ErrFull", err)
	}
	if err := m.RevokeID("a", t0.Add(2*time.Minute)); err != nil {
		t.Errorf("extending a held entry when full: %v", err)
	}
	if revoked, _ := m.Revoked(context.Background(), opaque, nil); !revoked {
		t.Errorf("a full list dropped a live revocation")
	}

	clk.Advance(2*time.Minute + DefaultLeeway) // "a" expires: its room is reused
	if err := m.RevokeID("c", t0.Add(time.Hour)); err != nil {
		t.Fatalf("after an entry expired: %v", err)
	}
	if n := m.Len(); n != 2 {
		t.Errorf("Len = %d, want 2", n)
	}
}

func TestExpiredEntriesAreDropped(t *testing.T) {
	clk := authtest.NewClock(t0)
	m := NewMemory(MemoryConfig{Now: clk.Now})
	for _, id := range []string{"a", "b", "c"} {
		if err := m.RevokeID(id, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.RevokeToken(opaque, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(sweepInterval + time.Minute + DefaultLeeway)
	if err := m.RevokeID("d", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := m.Len(); n != 1 {
		t.Errorf("Len = %d after the entries expired, want 1", n)
	}
	if m.tokenCount.Load() != 0 {
		t.Errorf("token count %d, want 0: checks would keep hashing", m.tokenCount.Load())
	}
}

func TestMemoryChecksDoNotAllocate(t *testing.T) {
	m := NewMemory(MemoryConfig{})
	_ = m.RevokeID("other", time.Time{})
	_ = m.RevokeToken("other", time.Time{})
	ctx := context.Background()
	for name, check := range map[string]func(){
		"JWT": func() { _, _ = m.Revoked(ctx, jwt, jwtPrincipal) },
		"opaque token": func() {
			_, _ = m.Revoked(ctx, opaque, opaquePrincipal)
		},
	} {
		if n := testing.AllocsPerRun(100, check); n != 0 {
			t.Errorf("%s: %v allocations per check, want 0", name, n)
		}
	}
}

func TestMemoryIsSafeForConcurrentUse(t *testing.T) {
	m := NewMemory(MemoryConfig{})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 200 {
				if err := m.RevokeID(string(rune('a'+i))+string(rune(j)), time.Time{}); err != nil {
					t.Error(err)
				}
				if err := m.RevokeToken(opaque+string(rune(j)), time.Time{}); err != nil {
					t.Error(err)
				}
			}
		})
		wg.Go(func() {
			for range 200 {
				// Neither token is ever revoked: only lookalikes are.
				if revoked, err := m.Revoked(context.Background(), jwt, jwtPrincipal); revoked || err != nil {
					t.Errorf("jwt: Revoked = %v, %v", revoked, err)
				}
				if revoked, err := m.Revoked(context.Background(), opaque, opaquePrincipal); revoked || err != nil {
					t.Errorf("opaque: Revoked = %v, %v", revoked, err)
				}
			}
		})
	}
	wg.Wait()
	for j := range 200 {
		if revoked, _ := m.Revoked(context.Background(), opaque+string(rune(j)), principal.New(principal.Fields{})); !revoked {
			t.Fatalf("token %d revoked concurrently is not revoked", j)
		}
	}
}

func TestTokenHashIsHexSHA256(t *testing.T) {
	sum := sha256.Sum256([]byte(opaque))
	if got, want := TokenHash(opaque), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("TokenHash = %s, want %s", got, want)
	}
}

func TestAJWTRevokedByTokenStaysRevokedWithItsOtherECDSASignature(t *testing.T) {
	iss := authtest.NewIssuer(t)
	token := iss.Mint(map[string]any{"sub": "u1"}, authtest.WithAlg(authtest.ES256))
	variant, err := authtest.ECDSATwin(token)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMemory(MemoryConfig{})
	if err := m.RevokeToken(token, time.Time{}); err != nil {
		t.Fatal(err)
	}
	p := principal.New(principal.Fields{Subject: "u1"})
	for name, tok := range map[string]string{"as revoked": token, "with (r, N-s)": variant} {
		if got, err := m.Revoked(context.Background(), tok, p); err != nil || !got {
			t.Errorf("%s: Revoked = %v, %v; want true", name, got, err)
		}
	}
	if TokenHash(token) != TokenHash(variant) {
		t.Error("TokenHash differs between two signatures over one signing input")
	}
}

func TestTokenHashOfACompactJWSIsTheHashOfItsSigningInput(t *testing.T) {
	hexSum := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return hex.EncodeToString(sum[:])
	}
	tests := []struct{ token, hashed string }{
		{jwt, "eyJhbGciOiJSUzI1NiJ9.eyJqdGkiOiJqdGktMSJ9"},
		{"a.b.c", "a.b"},
		{"a-_.b.Zz09", "a-_.b"},
		// Not three non-empty base64url parts: hashed whole.
		{opaque, opaque},
		{"", ""},
		{"a.b", "a.b"},
		{"a.b.c.d", "a.b.c.d"},
		{"a.b.c.d.e", "a.b.c.d.e"},
		{".b.c", ".b.c"},
		{"a..c", "a..c"},
		{"a.b.", "a.b."},
		{"a.b.c=", "a.b.c="},
		{"a.b+.c", "a.b+.c"},
		{"a.b.c\n", "a.b.c\n"},
		{"a.b.c ", "a.b.c "},
		{"tg_live.key-1.s3cr3t", "tg_live.key-1"},
	}
	for _, tt := range tests {
		if got, want := TokenHash(tt.token), hexSum(tt.hashed); got != want {
			t.Errorf("TokenHash(%q) is not the SHA-256 of %q", tt.token, tt.hashed)
		}
	}
	if TokenHash("a.b.c") != TokenHash("a.b.d") {
		t.Error("two signatures over one signing input hash differently")
	}
	if TokenHash("a.b.c") == TokenHash("a.c.c") {
		t.Error("two signing inputs hash alike")
	}
}

// BenchmarkMemoryRevoked measures the check made on every request. For a
// JWT with a jti and no token revoked by hash, it is one map lookup under a
// read lock and no hashing; the other cases add the token's SHA-256.
func BenchmarkMemoryRevoked(b *testing.B) {
	ctx := context.Background()
	cases := []struct {
		name   string
		byHash bool
		token  string
		p      *principal.Principal
	}{
		{"JWT with jti, no token revoked by hash", false, jwt, jwtPrincipal},
		{"JWT with jti, some token revoked by hash", true, jwt, jwtPrincipal},
		{"opaque token, some token revoked by hash", true, opaque, opaquePrincipal},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			m := NewMemory(MemoryConfig{})
			for i := range 1000 {
				_ = m.RevokeID("revoked-"+string(rune(i)), time.Time{})
				if bc.byHash {
					_ = m.RevokeToken("revoked-"+string(rune(i)), time.Time{})
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if revoked, _ := m.Revoked(ctx, bc.token, bc.p); revoked {
					b.Fatal("revoked")
				}
			}
		})
	}
}
