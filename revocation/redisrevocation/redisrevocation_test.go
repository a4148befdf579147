package redisrevocation

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	stderrors "errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/authtest"
	tgerrors "github.com/tollgate/tollgate/errors"
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

// testStore returns a Store on the real redis-server of TOLLGATE_REDIS_ADDR,
// under a key prefix of its own, and its round-trip counter.
func testStore(t *testing.T) (*Store, *redis.Client, *roundTrips) {
	t.Helper()
	addr := os.Getenv("TOLLGATE_REDIS_ADDR")
	if addr == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis: TOLLGATE_REDIS_ADDR not set in CI")
		}
		t.Skip("redis: TOLLGATE_REDIS_ADDR not set; run `make test` to start a real redis-server")
	}
	rt := &roundTrips{}
	client := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 1})
	client.AddHook(rt)
	t.Cleanup(func() { client.Close() })
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis at %s: %v", addr, err)
	}
	var b [8]byte
	rand.Read(b[:])
	prefix := "tollgate-test:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := client.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
	})
	return New(client, Config{Prefix: prefix}), client, rt
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
	later := time.Now().Add(time.Hour)
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
		{"until already past does nothing", func(ctx context.Context, s *Store) error {
			return s.RevokeID(ctx, "jti-1", time.Now().Add(-time.Second))
		}, jwt, jwtPrincipal, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, rt := testStore(t)
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

func TestRevocationsExpireAtUntilInRedis(t *testing.T) {
	s, client, _ := testStore(t)
	ctx := context.Background()
	until := time.Now().Add(time.Hour).Truncate(time.Millisecond).Add(300 * time.Microsecond)
	if err := s.RevokeID(ctx, "jti-1", until); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, opaque, time.Time{}); err != nil {
		t.Fatal(err)
	}
	got, err := client.Do(ctx, "PEXPIRETIME", s.idKey("jti-1")).Int64()
	if err != nil {
		t.Fatal(err)
	}
	// Rounded up to the millisecond: never before the token expires.
	if want := until.Truncate(time.Millisecond).Add(time.Millisecond).UnixMilli(); got != want {
		t.Errorf("jti key expires at %d ms, want %d", got, want)
	}
	if ttl, err := client.PTTL(ctx, s.tokenKey(opaque)).Result(); err != nil || ttl != -1 {
		t.Errorf("token key revoked for ever has TTL %v, %v; want none (-1)", ttl, err)
	}
}

func TestTokenKeysHoldOnlyTheHash(t *testing.T) {
	s, client, _ := testStore(t)
	ctx := context.Background()
	if err := s.RevokeToken(ctx, opaque, time.Time{}); err != nil {
		t.Fatal(err)
	}
	keys, err := client.Keys(ctx, s.prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{s.prefix + "tok:" + revocation.TokenHash(opaque)}; len(keys) != 1 || keys[0] != want[0] {
		t.Errorf("keys %v, want %v", keys, want)
	}
}

func TestAJWTRevokedByTokenStaysRevokedWithItsOtherECDSASignature(t *testing.T) {
	s, _, _ := testStore(t)
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

func TestARedisOutageFailsClosed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1})
	defer client.Close()
	s := New(client, Config{})

	for _, p := range []*principal.Principal{jwtPrincipal, opaquePrincipal} {
		revoked, err := s.Revoked(context.Background(), jwt, p)
		if revoked || err == nil {
			t.Fatalf("Revoked = %v, %v; want an error", revoked, err)
		}
		var e *tgerrors.Error
		if !stderrors.As(err, &e) || e.Kind != tgerrors.Unavailable || e.HTTPStatus() != 503 {
			t.Errorf("err = %v, want an *errors.Error of kind unavailable", err)
		}
	}
	if err := s.RevokeID(context.Background(), "jti-1", time.Time{}); err == nil {
		t.Error("RevokeID succeeded without Redis")
	}
}

func TestARevokedTokenIsRefusedFromTheNextRequestOnByEveryReplica(t *testing.T) {
	s, client, _ := testStore(t)
	other := New(client, Config{Prefix: s.prefix}) // another replica's view
	var calls atomic.Int64
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		io.WriteString(w, `{"active":true,"jti":"tok-1"}`)
	}))
	defer as.Close()
	c, err := introspect.New(introspect.Config{Endpoint: as.URL, ClientID: "rs", ClientSecret: "s"})
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

// BenchmarkStoreRevoked measures a check of a JWT with a jti: one pipelined
// round trip of two EXISTS to the loopback redis-server.
func BenchmarkStoreRevoked(b *testing.B) {
	addr := os.Getenv("TOLLGATE_REDIS_ADDR")
	if addr == "" {
		b.Skip("redis: TOLLGATE_REDIS_ADDR not set; run `make test` to start a real redis-server")
	}
	client := redis.NewClient(&redis.Options{Addr: addr})
	defer client.Close()
	s := New(client, Config{Prefix: "tollgate-bench:"})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Revoked(ctx, jwt, jwtPrincipal); err != nil {
			b.Fatal(err)
		}
	}
}
