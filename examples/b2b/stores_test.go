package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/authtest"
	"github.com/tollgate/tollgate/internal/pgtest"
	"github.com/tollgate/tollgate/internal/redistest"
	"github.com/tollgate/tollgate/issuer/pgstore"
	"github.com/tollgate/tollgate/revocation/redisrevocation"
)

// schemaPools creates a schema of the test's own, dropped at cleanup, and
// returns a pool factory on it: each call is a new process's pool, which
// migrates the schema as the program does at start.
func schemaPools(t *testing.T) func() *pgxpool.Pool {
	t.Helper()
	_, pools := newSchema(t)
	return pools
}

// newSchema is schemaPools, with the URL of the schema, as -postgres
// would be given it.
func newSchema(t *testing.T) (string, func() *pgxpool.Pool) {
	t.Helper()
	first, schema := pgtest.Schema(t, nil)
	base := pgtest.URL(t)
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema, func() *pgxpool.Pool {
		pool := pgtest.Replica(t, first)
		if err := pgstore.Migrate(context.Background(), pool); err != nil {
			t.Fatal(err)
		}
		return pool
	}
}

var testKEK = []byte("0123456789abcdef0123456789abcdef")

// onPostgres builds an env whose keys and sessions are in pool, as a
// process started with -postgres; e, if given, shares its clock.
func onPostgres(t *testing.T, pool *pgxpool.Pool, of *env, revoked revocationList) *env {
	t.Helper()
	e := &env{t: t, clock: authtest.NewClock(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))}
	if revoked != nil {
		// Redis expires the revocations by its own clock.
		e.clock = authtest.NewClock(time.Now().Truncate(time.Second))
	}
	if of != nil {
		e.clock = of.clock
	}
	keys, err := pgstore.NewKeyStore(pool, testKEK)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, e, pgstore.NewSessionStore(pool))
	cfg.Keys = keys
	cfg.Revoked = revoked
	e.build(cfg)
	return e
}

func TestTokensSurviveARestartOnPostgres(t *testing.T) {
	pools := schemaPools(t)
	before := onPostgres(t, pools(), nil, nil)
	began := before.clock.Now()
	tk := before.login("globex", strangerIP)

	// A new process on the same database: its key ring finds the key,
	// its sessions the refresh token.
	after := onPostgres(t, pools(), before, nil)
	if w := after.do(productsReq(tk.Access, strangerIP)); w.Code != http.StatusOK || w.Body.String() != productsBody {
		t.Fatalf("the access token after a restart: %d %s", w.Code, w.Body)
	}
	after.clock.Advance(time.Minute)
	next := after.tokens(after.do(refreshReq(tk.Refresh, strangerIP)), after.clock.Now(), began)
	// Reuse is recognised across the restart too.
	after.refused(after.do(refreshReq(tk.Refresh, strangerIP)), 401, badRefresh, basic)
	after.refused(after.do(refreshReq(next.Refresh, strangerIP)), 401, badRefresh, basic)
	after.refused(after.do(productsReq(next.Access, strangerIP)), 401, refusal("UnauthorizedError", "UNAUTHORIZED", "The access token is invalid"), bearer)
}

func TestTheAllowListGuardsARefreshOnPostgres(t *testing.T) {
	e := onPostgres(t, schemaPools(t)(), nil, nil)
	began := e.clock.Now()
	tk := e.tokens(e.do(loginReq("acme", officeIP)), began, began)
	e.refused(e.do(refreshReq(tk.Refresh, strangerIP)), 403, signInDenied, "")
	e.tokens(e.do(refreshReq(tk.Refresh, officeIP)), began, began)
}

// Two replicas on one database and one Redis: a refresh token reused on
// one ends the session, and the other refuses its access tokens.
func TestAReuseOnOneReplicaIsRefusedByAnotherWithRedis(t *testing.T) {
	pools := schemaPools(t)
	client := redistest.Shared(t)
	prefix := redistest.Prefix(t)
	list := func() revocationList {
		s := redisrevocation.New(client, redisrevocation.Config{Prefix: prefix})
		if err := s.Restore(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := onPostgres(t, pools(), nil, list())
	b := onPostgres(t, pools(), a, list())
	tk := a.login("globex", strangerIP)
	next := b.tokens(b.do(refreshReq(tk.Refresh, strangerIP)), b.clock.Now(), b.clock.Now())
	if w := a.do(productsReq(next.Access, strangerIP)); w.Code != http.StatusOK {
		t.Fatalf("replica a: %d %s", w.Code, w.Body)
	}
	a.refused(a.do(refreshReq(tk.Refresh, strangerIP)), 401, badRefresh, basic)
	b.refused(b.do(productsReq(next.Access, strangerIP)), 401, refusal("UnauthorizedError", "UNAUTHORIZED", "The access token is invalid"), bearer)
}

// The program's own start with -postgres: it refuses to start without a
// key-encryption key, and a token it issued is accepted by the next start.
func TestStartWithPostgresKeepsTokensAcrossARestart(t *testing.T) {
	u, _ := newSchema(t)
	t.Setenv("B2B_KEY_ENCRYPTION_KEY", "")
	if _, err := start(t.Context(), "127.0.0.1:0", u, "", io.Discard); err == nil || !strings.Contains(err.Error(), "B2B_KEY_ENCRYPTION_KEY") {
		t.Fatalf("started without a key-encryption key: %v", err)
	}
	t.Setenv("B2B_KEY_ENCRYPTION_KEY", base64.StdEncoding.EncodeToString(testKEK))
	var out strings.Builder
	ctx, stop := context.WithCancel(t.Context()) // the first process's life
	first, err := start(ctx, "127.0.0.1:0", u, "", &out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "state in PostgreSQL") {
		t.Fatalf("the guide: %s", out.String())
	}
	e := &env{t: t, clock: authtest.NewClock(time.Now()), api: first.api}
	globex := ""
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "globex" {
			globex = f[1]
		}
	}
	w := e.do(request{method: "POST", path: "/auth/login", from: "127.0.0.1", body: `{"username":"globex","password":"` + globex + `"}`})
	var body struct {
		Data tokenData `json:"data"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); w.Code != 200 || err != nil {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	stop()
	first.close()

	second, err := start(t.Context(), "127.0.0.1:0", u, "", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(second.close)
	e.api = second.api
	if w := e.do(productsReq(body.Data.AccessToken, "127.0.0.1")); w.Code != 200 {
		t.Fatalf("the access token after a restart: %d %s", w.Code, w.Body)
	}
	if w := e.do(refreshReq(body.Data.RefreshToken, "127.0.0.1")); w.Code != 200 {
		t.Fatalf("the refresh token after a restart: %d %s", w.Code, w.Body)
	}
}
