// Command b2b is a B2B API in the envelope style: its own login, refresh
// and logout, tokens minted by package issuer and checked by tollgate in
// the same process, and a per-account IP allow-list on every route.
//
//	POST /auth/login    {"username","password"}  → access (1 h) + refresh (7 d)
//	POST /auth/refresh  {"refresh_token"}        → a new pair; the old refresh token is spent
//	POST /auth/logout   Bearer access token      → the session ends
//	GET  /api/v1/products  Bearer access token
//
// Answers are {"success":true,"data":…}; a login or refresh answers
// {"access_token","refresh_token","access_expires_at","refresh_expires_at",
// "client_id"}. Every refusal is {"success":false,"error":{"name","code",
// "message"}}: 401 UnauthorizedError for a missing, invalid, expired or
// revoked token, a wrong password or a bad refresh token; 403
// ForbiddenError for an address outside the account's allow-list (checked
// before the password at login, before the token rotates at refresh, and
// after the token on the API) or on the static deny list (before anything
// else); 400 ValidationException and SyntaxError for bad bodies; 404 and
// 405 for other paths and methods.
//
// The access token is an ES256 JWT (RFC 9068) signed by an issuer.KeyRing
// and verified through jwt.Issuer.KeySource, without HTTP. The refresh
// token is opaque, stored as its SHA-256, and single use: each refresh
// rotates it, and presenting a spent one again is taken as theft (RFC 9700
// §4.14.2): the whole session ends, and its access tokens are refused by
// their "sid" through the revocation list. Logout ends the session the
// same way. Passwords are stored as argon2id hashes.
//
// By default everything is in memory and nothing needs setting up:
//
//	go run ./examples/b2b
//
// prints the demo accounts' passwords (once) and curl commands for the
// whole flow. With -postgres URL (or B2B_POSTGRES_URL) the signing keys
// (sealed with AES-256-GCM under the key-encryption key in
// B2B_KEY_ENCRYPTION_KEY, 32 bytes in base64) and the refresh sessions are
// kept in PostgreSQL, so tokens survive a restart and every replica
// accepts them; with -redis ADDR (or B2B_REDIS_ADDR) the revocation list
// is shared in Redis, so a logout or a reused refresh token is seen by
// every replica and survives a restart.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/ipfilter"
	"github.com/tollgate/tollgate/issuer/pgstore"
	"github.com/tollgate/tollgate/revocation/redisrevocation"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	postgres := flag.String("postgres", os.Getenv("B2B_POSTGRES_URL"), "PostgreSQL URL for signing keys and refresh sessions (needs B2B_KEY_ENCRYPTION_KEY); empty: memory")
	redisAddr := flag.String("redis", os.Getenv("B2B_REDIS_ADDR"), "Redis address for the revocation list; empty: memory")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *addr, *postgres, *redisAddr, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// demoAccounts are the accounts run creates: acme may call only from its
// office network (not from this machine: its requests show the 403),
// globex only from this machine.
var demoAccounts = []struct {
	name  string
	allow []string
}{
	{"acme", []string{"203.0.113.0/24"}},
	{"globex", []string{"127.0.0.1", "::1"}},
}

// server is a started API.
type server struct {
	api     *api
	ln      net.Listener
	cleanup []func()
}

func (s *server) close() {
	_ = s.ln.Close()
	for i := len(s.cleanup) - 1; i >= 0; i-- {
		s.cleanup[i]()
	}
}

// start builds the API on memory stores, or on postgresURL and redisAddr,
// listens on addr and prints the accounts and commands to out.
func start(ctx context.Context, addr, postgresURL, redisAddr string, out io.Writer) (*server, error) {
	s := &server{}
	cfg := config{Users: map[string]string{}}
	accounts := &ipfilter.MemoryAccounts{}
	passwords := map[string]string{}
	for _, a := range demoAccounts {
		passwords[a.name] = rand.Text()
		cfg.Users[a.name] = hashPassword(passwords[a.name])
		if err := accounts.Set(a.name, a.allow...); err != nil {
			return nil, err
		}
	}
	cfg.Accounts = accounts
	if postgresURL != "" {
		kek, err := base64.StdEncoding.DecodeString(os.Getenv("B2B_KEY_ENCRYPTION_KEY"))
		if err != nil || len(kek) != 32 {
			return nil, errors.New(`B2B_KEY_ENCRYPTION_KEY must be 32 bytes in base64 with -postgres, e.g. B2B_KEY_ENCRYPTION_KEY="$(head -c32 /dev/urandom | base64)"; keep it in a secret manager: the signing keys are sealed under it`)
		}
		pool, err := pgxpool.New(ctx, postgresURL)
		if err != nil {
			return nil, err
		}
		s.cleanup = append(s.cleanup, pool.Close)
		if err := pgstore.Migrate(ctx, pool); err != nil {
			s.close0()
			return nil, err
		}
		if cfg.Keys, err = pgstore.NewKeyStore(pool, kek); err != nil {
			s.close0()
			return nil, err
		}
		cfg.Sessions = pgstore.NewSessionStore(pool)
	}
	if redisAddr != "" {
		client := redis.NewClient(&redis.Options{Addr: redisAddr, ContextTimeoutEnabled: true})
		s.cleanup = append(s.cleanup, func() { _ = client.Close() })
		store := redisrevocation.New(client, redisrevocation.Config{Prefix: "b2b:revoked:"})
		// A Redis that holds no list yet (a new one) gets an empty one;
		// one that lost its list is accepted as it is.
		if err := store.Restore(ctx); err != nil {
			s.close0()
			return nil, err
		}
		cfg.Revoked = store
	}
	a, err := newAPI(ctx, cfg)
	if err != nil {
		s.close0()
		return nil, err
	}
	s.api = a
	s.cleanup = append(s.cleanup, func() { _ = a.verifier.Close() })
	go a.ring.Run(ctx)
	if s.ln, err = net.Listen("tcp", addr); err != nil {
		s.close0()
		return nil, err
	}
	printGuide(out, "http://"+s.ln.Addr().String(), passwords, postgresURL != "", redisAddr != "")
	return s, nil
}

// close0 releases what start took before it listened.
func (s *server) close0() {
	for i := len(s.cleanup) - 1; i >= 0; i-- {
		s.cleanup[i]()
	}
}

func run(ctx context.Context, addr, postgresURL, redisAddr string, out io.Writer) error {
	s, err := start(ctx, addr, postgresURL, redisAddr, out)
	if err != nil {
		return err
	}
	defer s.close()
	srv := &http.Server{Handler: s.api, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func printGuide(out io.Writer, base string, passwords map[string]string, postgres, redis bool) {
	where := "memory (restart: every token is gone)"
	switch {
	case postgres && redis:
		where = "PostgreSQL (keys, sessions) and Redis (revocations)"
	case postgres:
		where = "PostgreSQL (keys, sessions; revocations in memory)"
	}
	pick := `sed -E 's/.*"%s":"([^"]+)".*/\1/'`
	fmt.Fprintf(out, `B2B API on %[1]s, state in %[2]s.

Demo accounts (passwords shown only now):
  acme    %[3]s   may call only from 203.0.113.0/24 (not from here: 403)
  globex  %[4]s   may call only from 127.0.0.1 and ::1

  # log in as globex: {"success":true,"data":{"access_token",…}}
  LOGIN=$(curl -s -H 'Content-Type: application/json' -d '{"username":"globex","password":"%[4]s"}' %[1]s/auth/login); echo "$LOGIN"
  ACCESS=$(echo "$LOGIN" | %[5]s); REFRESH=$(echo "$LOGIN" | %[6]s)
  curl -i -H "Authorization: Bearer $ACCESS" %[1]s/api/v1/products

  # refresh: a new pair; the old refresh token is spent
  NEXT=$(curl -s -H 'Content-Type: application/json' -d '{"refresh_token":"'$REFRESH'"}' %[1]s/auth/refresh); echo "$NEXT"
  ACCESS2=$(echo "$NEXT" | %[5]s)
  # the spent one again: 401, and the whole session is ended ...
  curl -i -H 'Content-Type: application/json' -d '{"refresh_token":"'$REFRESH'"}' %[1]s/auth/refresh
  # ... so the new access token is refused too: 401
  curl -i -H "Authorization: Bearer $ACCESS2" %[1]s/api/v1/products

  # log in again and log out: the access token is refused afterwards
  ACCESS=$(curl -s -H 'Content-Type: application/json' -d '{"username":"globex","password":"%[4]s"}' %[1]s/auth/login | %[5]s)
  curl -i -X POST -H "Authorization: Bearer $ACCESS" %[1]s/auth/logout
  curl -i -H "Authorization: Bearer $ACCESS" %[1]s/api/v1/products

  # acme from here: 403 before its password is checked
  curl -i -H 'Content-Type: application/json' -d '{"username":"acme","password":"%[3]s"}' %[1]s/auth/login
  # 401 wrong password, 400 ValidationException, 400 SyntaxError
  curl -i -H 'Content-Type: application/json' -d '{"username":"globex","password":"wrong"}' %[1]s/auth/login
  curl -i -H 'Content-Type: application/json' -d '{"username":"globex"}' %[1]s/auth/login
  curl -i -H 'Content-Type: application/json' -d 'username=globex' %[1]s/auth/login

`, base, where, passwords["acme"], passwords["globex"], fmt.Sprintf(pick, "access_token"), fmt.Sprintf(pick, "refresh_token"))
}
