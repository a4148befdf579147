package redisrevocation

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/authtest"
	"github.com/tollgate/tollgate/internal/redistest"
	"github.com/tollgate/tollgate/introspect"
	"github.com/tollgate/tollgate/principal"
	"github.com/tollgate/tollgate/revocation"
)

// roundTrips counts the writes a client makes on its connections, the
// connection handshakes (HELLO, CLIENT …) aside: a command or a pipeline is
// flushed in one write, so each is one round trip.
type roundTrips struct{ n atomic.Int64 }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: conn, n: &h.n}, nil
	}
}

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Write(b []byte) (int, error) {
	if !bytes.Contains(b, []byte("\r\nhello\r\n")) && !bytes.Contains(b, []byte("\r\nclient\r\n")) {
		c.n.Add(1)
	}
	return c.Conn.Write(b)
}

// testStore returns a Store on the shared redis-server, on a new empty
// list under a key prefix of its own, and its round-trip counter. Its keys
// are dropped at cleanup.
func testStore(t *testing.T, cfg Config) (*Store, *redis.Client, *roundTrips) {
	t.Helper()
	rt := &roundTrips{}
	client := redis.NewClient(&redis.Options{Addr: redistest.SharedAddr(t), ContextTimeoutEnabled: true})
	client.AddHook(rt) // before the first connection, which it counts on
	t.Cleanup(func() { client.Close() })
	if cfg.Prefix == "" {
		cfg.Prefix = redistest.Prefix(t)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = roomyTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = discard // the shared server runs without persistence, and Restore says so
	}
	s := New(client, cfg)
	ctx := context.Background()
	t.Cleanup(func() {
		iter := client.Scan(ctx, 0, s.tag+"*", 100).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
	})
	if err := s.Restore(ctx); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	return s, client, rt
}

const (
	jwt    = "eyJhbGciOiJSUzI1NiJ9.eyJqdGkiOiJqdGktMSJ9.c2ln"
	opaque = "2YotnFZFEjr1zCsicMWpAA"
)

var (
	jwtPrincipal    = principal.New(principal.Fields{Subject: "u1", TokenID: "jti-1"})
	opaquePrincipal = principal.New(principal.Fields{Subject: "u1"})
)

func TestStoreRevocation(t *testing.T) {
	now := time.Now()
	later := now.Add(time.Hour)
	tests := []struct {
		name   string
		revoke func(ctx context.Context, s *Store) error
		token  string
		p      *principal.Principal
		want   bool
	}{
		{"nothing revoked", func(context.Context, *Store) error { return nil }, jwt, jwtPrincipal, false},
		{"JWT revoked by its jti", func(ctx context.Context, s *Store) error { return s.RevokeID(ctx, "jti-1", later) }, jwt, jwtPrincipal, true},
		{"another jti is not revoked", func(ctx context.Context, s *Store) error { return s.RevokeID(ctx, "jti-2", later) }, jwt, jwtPrincipal, false},
		{"opaque token revoked by its hash", func(ctx context.Context, s *Store) error { return s.RevokeToken(ctx, opaque, later) }, opaque, opaquePrincipal, true},
		{"another opaque token is not revoked", func(ctx context.Context, s *Store) error { return s.RevokeToken(ctx, "other", later) }, opaque, opaquePrincipal, false},
		{"JWT revoked by its hash despite its jti", func(ctx context.Context, s *Store) error { return s.RevokeToken(ctx, jwt, later) }, jwt, jwtPrincipal, true},
		{"revoked by hash with no principal", func(ctx context.Context, s *Store) error { return s.RevokeToken(ctx, opaque, later) }, opaque, nil, true},
		{"a token without jti is not matched by an ID", func(ctx context.Context, s *Store) error { return s.RevokeID(ctx, "jti-1", later) }, opaque, opaquePrincipal, false},
		{"jti with hash-tag braces", func(ctx context.Context, s *Store) error { return s.RevokeID(ctx, "{x}y", later) }, jwt, principal.New(principal.Fields{TokenID: "{x}y"}), true},
		{"zero until revokes for ever", func(ctx context.Context, s *Store) error { return s.RevokeToken(ctx, opaque, time.Time{}) }, opaque, opaquePrincipal, true},
		{"until past but inside the leeway still revokes", func(ctx context.Context, s *Store) error {
			return s.RevokeID(ctx, "jti-1", now.Add(-10*time.Second))
		}, jwt, jwtPrincipal, true},
		{"until past by more than the leeway does nothing", func(ctx context.Context, s *Store) error {
			return s.RevokeID(ctx, "jti-1", now.Add(-revocation.DefaultLeeway-time.Second))
		}, jwt, jwtPrincipal, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, rt := testStore(t, Config{Now: func() time.Time { return now }})
			ctx := context.Background()
			if err := tt.revoke(ctx, s); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			before := rt.n.Load()
			got, err := s.Revoked(ctx, tt.token, tt.p)
			if err != nil || got != tt.want {
				t.Errorf("Revoked = %v, %v; want %v, nil", got, err, tt.want)
			}
			if n := rt.n.Load() - before; n != 1 {
				t.Errorf("check took %d round trips, want 1", n)
			}
		})
	}
}

// Redis drops each key itself, at until plus the Leeway: the verifier
// admits a token up to its leeway past exp, so the revocation must last as
// long. (Redis's clock cannot be moved; the keys' expiry times are read.)
func TestRevocationsExpireAtUntilPlusTheLeewayInRedis(t *testing.T) {
	now := time.Now()
	until := now.Add(time.Hour).Truncate(time.Millisecond).Add(300 * time.Microsecond)
	tests := []struct {
		name   string
		leeway time.Duration
		until  time.Time
		want   time.Time // zero: no key
	}{
		{"default leeway", 0, until, until.Add(revocation.DefaultLeeway)},
		{"configured leeway", time.Minute, until, until.Add(time.Minute)},
		{"no leeway", -1, until, until},
		{"revoked after exp, inside the leeway", 0, now.Add(-time.Minute), now.Add(-time.Minute + revocation.DefaultLeeway)},
		{"revoked after exp, past a configured leeway", 30 * time.Second, now.Add(-time.Minute), time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, client, _ := testStore(t, Config{Leeway: tt.leeway, Now: func() time.Time { return now }})
			ctx := context.Background()
			if err := s.RevokeID(ctx, "jti-1", tt.until); err != nil {
				t.Fatal(err)
			}
			got, err := client.Do(ctx, "PEXPIRETIME", s.idKey("jti-1")).Int64()
			if err != nil {
				t.Fatal(err)
			}
			if tt.want.IsZero() {
				if got != -2 {
					t.Errorf("PEXPIRETIME = %d, want -2 (no key)", got)
				}
				return
			}
			// Rounded up to the millisecond: never before the verifier
			// stops admitting the token.
			want := tt.want.Add(time.Millisecond - 1).Truncate(time.Millisecond).UnixMilli()
			if got != want {
				t.Errorf("key expires at %d ms, want %d", got, want)
			}
		})
	}
	t.Run("zero until: no expiry", func(t *testing.T) {
		s, client, _ := testStore(t, Config{})
		ctx := context.Background()
		if err := s.RevokeToken(ctx, opaque, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if ttl, err := client.PTTL(ctx, s.tokenKey(opaque)).Result(); err != nil || ttl != -1 {
			t.Errorf("token key revoked for ever has TTL %v, %v; want none (-1)", ttl, err)
		}
	})
}

func TestTokenKeysHoldOnlyTheHash(t *testing.T) {
	s, client, _ := testStore(t, Config{})
	ctx := context.Background()
	if err := s.RevokeToken(ctx, opaque, time.Time{}); err != nil {
		t.Fatal(err)
	}
	keys, err := client.Keys(ctx, s.tag+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	want := []string{s.tag + "epoch", s.tag + "tok:" + revocation.TokenHash(opaque)}
	if !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
}

func TestAJWTRevokedByTokenStaysRevokedWithItsOtherECDSASignature(t *testing.T) {
	s, _, _ := testStore(t, Config{})
	ctx := context.Background()
	iss := authtest.NewIssuer(t)
	token := iss.Mint(map[string]any{"sub": "u1"}, authtest.WithAlg(authtest.ES256))
	variant, err := authtest.ECDSATwin(token)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, token, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"as revoked": token, "with (r, N-s)": variant} {
		for _, p := range []*principal.Principal{nil, principal.New(principal.Fields{Subject: "u1"}), principal.New(principal.Fields{Subject: "u1", TokenID: "jti-9"})} {
			if got, err := s.Revoked(ctx, tok, p); err != nil || !got {
				t.Errorf("%s, principal %+v: Revoked = %v, %v; want true", name, p, got, err)
			}
		}
	}
}

func TestARevokedTokenIsRefusedFromTheNextRequestOnByEveryReplica(t *testing.T) {
	s, client, _ := testStore(t, Config{})
	other := New(client, Config{Prefix: strings.Trim(s.tag, "{}"), Timeout: roomyTimeout}) // another replica's view
	var calls atomic.Int64
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		io.WriteString(w, `{"active":true,"jti":"tok-1"}`)
	}))
	defer as.Close()
	c, err := introspect.New(introspect.Config{Endpoint: as.URL, Auth: introspect.ClientSecretBasic("rs", "s")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	check := func() bool {
		p, err := c.Verify(ctx, opaque)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		revoked, err := other.Revoked(ctx, opaque, p)
		if err != nil {
			t.Fatalf("Revoked: %v", err)
		}
		return revoked
	}
	if check() {
		t.Fatal("revoked before any revocation")
	}
	if err := s.RevokeID(ctx, "tok-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !check() {
		t.Error("the next request after the revocation was not refused")
	}
	if calls.Load() != 1 {
		t.Errorf("%d introspection calls, want 1: the second request was a cache hit", calls.Load())
	}
}

func TestNewRefusesABraceInThePrefix(t *testing.T) {
	for _, prefix := range []string{"{a}", "a{", "a}"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New with Prefix %q did not panic", prefix)
				}
			}()
			New(redis.NewClient(&redis.Options{}), Config{Prefix: prefix})
		}()
	}
}

func TestNewRefusesANilClient(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New(nil) did not panic")
		}
	}()
	New(nil, Config{})
}
