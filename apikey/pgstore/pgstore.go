// Package pgstore is an apikey.Store and apikey.Watcher on PostgreSQL,
// through github.com/jackc/pgx/v5 and a *pgxpool.Pool the application
// owns.
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	if err := pgstore.Migrate(ctx, pool); err != nil { … }  // explicit, at start-up
//	keys, err := apikey.New(apikey.Config{Store: pgstore.New(pool), …})
//
// # Schema
//
// Migrate applies the embedded migrations (migrations/*.sql) to the first
// schema of the connection's search_path: tollgate_apikey_keys (one row
// per key), tollgate_apikey_hashes (the HMAC digests of each key's
// secrets, primary key on the digest: the index a cache miss reads), and
// tollgate_apikey_migrations. Nothing is created at import time or by New.
// To keep the tables in a schema of their own, set search_path in the
// pool's connection string (options=-csearch_path=auth).
//
// Every query is a constant with placeholders; no value is ever spliced
// into SQL text, so hostile names, metadata or ids round-trip as data.
//
// # Change notifications
//
// Every change made through Update (deactivation, revocation, rotation,
// new permissions) sends NOTIFY on the channel "tollgate_apikey" with the
// key's id, inside the same transaction, so it is delivered exactly when
// the change commits. Watch LISTENs on a connection of its own (taken from
// the pool and detached from it), pings it when it has been quiet for
// five seconds so a silently dead connection is noticed, reconnects with
// backoff, and reports every (re)subscription as changed(""): the caller
// drops its cache, as notifications sent while it was away are lost.
//
// # Failure
//
// Every error other than apikey.ErrNotFound, ErrConflict and ErrExhausted
// is the database's, wrapped: apikey refuses verification with
// unavailable (503) on it. pgstore does not retry; the pool reconnects.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/apikey"
	"github.com/tollgate/tollgate/ratelimit"
)

// Channel is the NOTIFY channel of key changes.
const Channel = "tollgate_apikey"

// Store is an apikey.Store and apikey.Watcher on a pgx pool. It is safe
// for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	// quiet is how long Watch waits for a notification before it pings.
	quiet time.Duration
}

// New returns a Store on pool. The tables must exist: call Migrate first.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool, log: slog.Default(), quiet: 5 * time.Second}
}

// WithLogger returns s logging Watch's disconnections and recoveries to
// log instead of slog.Default().
func (s *Store) WithLogger(log *slog.Logger) *Store {
	c := *s
	c.log = log
	return &c
}

const (
	insertKeySQL = `INSERT INTO tollgate_apikey_keys (
	id, prefix, hint, name, owner_id, org_id, app_id, permissions, metadata, status,
	created_at, updated_at, expires_at, last_used_at,
	rate_events, rate_per_ns, rate_burst, rate_name, remaining_uses, version
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`

	insertHashSQL = `INSERT INTO tollgate_apikey_hashes (digest, key_id, pepper, until) VALUES ($1, $2, $3, $4)`

	lookupSQL = `SELECT
	k.id, k.prefix, k.hint, k.name, k.owner_id, k.org_id, k.app_id, k.permissions, k.metadata, k.status,
	k.created_at, k.updated_at, k.expires_at, k.last_used_at,
	k.rate_events, k.rate_per_ns, k.rate_burst, k.rate_name, k.remaining_uses, k.version,
	h.digest, h.pepper, h.until
FROM tollgate_apikey_hashes h JOIN tollgate_apikey_keys k ON k.id = h.key_id
WHERE h.digest = ANY($1)
LIMIT 1`

	getSQL = `SELECT
	id, prefix, hint, name, owner_id, org_id, app_id, permissions, metadata, status,
	created_at, updated_at, expires_at, last_used_at,
	rate_events, rate_per_ns, rate_burst, rate_name, remaining_uses, version
FROM tollgate_apikey_keys WHERE id = $1`

	getForUpdateSQL = `SELECT
	id, prefix, hint, name, owner_id, org_id, app_id, permissions, metadata, status,
	created_at, updated_at, expires_at, last_used_at,
	rate_events, rate_per_ns, rate_burst, rate_name, remaining_uses, version
FROM tollgate_apikey_keys WHERE id = $1 FOR UPDATE`

	listSQL = `SELECT
	id, prefix, hint, name, owner_id, org_id, app_id, permissions, metadata, status,
	created_at, updated_at, expires_at, last_used_at,
	rate_events, rate_per_ns, rate_burst, rate_name, remaining_uses, version
FROM tollgate_apikey_keys WHERE owner_id = $1 AND id > $2 ORDER BY id LIMIT $3`

	hashesSQL = `SELECT digest, pepper, until FROM tollgate_apikey_hashes WHERE key_id = $1`

	updateKeySQL = `UPDATE tollgate_apikey_keys SET
	hint = $2, name = $3, permissions = $4, metadata = $5, status = $6, updated_at = $7, expires_at = $8,
	rate_events = $9, rate_per_ns = $10, rate_burst = $11, rate_name = $12, remaining_uses = $13,
	version = version + 1
WHERE id = $1 RETURNING version`

	deleteHashesSQL = `DELETE FROM tollgate_apikey_hashes WHERE key_id = $1`

	notifySQL = `SELECT pg_notify($1, $2)`

	consumeSQL = `UPDATE tollgate_apikey_keys SET remaining_uses = remaining_uses - 1
WHERE id = $1 AND remaining_uses > 0 RETURNING remaining_uses`

	remainingSQL = `SELECT remaining_uses FROM tollgate_apikey_keys WHERE id = $1`

	touchSQL = `UPDATE tollgate_apikey_keys AS k SET last_used_at = u.at
FROM unnest($1::text[], $2::timestamptz[]) AS u(id, at)
WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at <= u.at - $3::bigint * interval '1 microsecond')`

	listenSQL = `LISTEN tollgate_apikey`
	pingSQL   = `SELECT 1`
)

// Insert implements apikey.Store.
func (s *Store) Insert(ctx context.Context, k *apikey.Key, h apikey.Hash) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		events, per, burst, name := rateColumns(k.RateLimit)
		if _, err := tx.Exec(ctx, insertKeySQL,
			k.ID, k.Prefix, k.Hint, k.Name, k.Owner.ID, k.Owner.OrgID, k.Owner.AppID, permissions(k.Permissions), metadata(k.Metadata), string(k.Status),
			k.CreatedAt, k.UpdatedAt, nullTime(k.ExpiresAt), nullTime(k.LastUsedAt),
			events, per, burst, name, k.RemainingUses, k.Version); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, insertHashSQL, h.Digest[:], k.ID, h.Pepper, nullTime(h.Until))
		return err
	})
	return wrap("inserting a key", err)
}

// Lookup implements apikey.Store: one query on the digest's index.
func (s *Store) Lookup(ctx context.Context, digests []apikey.Digest) (*apikey.Key, apikey.Hash, error) {
	ds := make([][]byte, len(digests))
	for i := range digests {
		ds[i] = digests[i][:]
	}
	var h apikey.Hash
	var digest []byte
	var until *time.Time
	k, err := scanKey(s.pool.QueryRow(ctx, lookupSQL, ds), &digest, &h.Pepper, &until)
	if err != nil {
		return nil, apikey.Hash{}, wrap("looking a key up", err)
	}
	copy(h.Digest[:], digest)
	h.Until = fromNull(until)
	return k, h, nil
}

// Get implements apikey.Store.
func (s *Store) Get(ctx context.Context, id string) (*apikey.Key, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, getSQL, id))
	return k, wrap("reading a key", err)
}

// List implements apikey.Store.
func (s *Store) List(ctx context.Context, q apikey.ListQuery) ([]*apikey.Key, error) {
	rows, err := s.pool.Query(ctx, listSQL, q.Owner, q.After, q.Limit)
	if err != nil {
		return nil, wrap("listing keys", err)
	}
	defer rows.Close()
	var out []*apikey.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, wrap("listing keys", err)
		}
		out = append(out, k)
	}
	return out, wrap("listing keys", rows.Err())
}

// Update implements apikey.Store: the key's row is locked (SELECT … FOR
// UPDATE) for fn, so concurrent Updates of one key (a Rotate and a
// Revoke) apply one after the other, each to the other's result. The
// change is announced on Channel in the same transaction.
func (s *Store) Update(ctx context.Context, id string, fn func(k *apikey.Key, hashes []apikey.Hash) ([]apikey.Hash, error)) (*apikey.Key, error) {
	var out *apikey.Key
	var fnErr error
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		stored, err := scanKey(tx.QueryRow(ctx, getForUpdateSQL, id))
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, hashesSQL, id)
		if err != nil {
			return err
		}
		var hashes []apikey.Hash
		for rows.Next() {
			var h apikey.Hash
			var digest []byte
			var until *time.Time
			if err := rows.Scan(&digest, &h.Pepper, &until); err != nil {
				rows.Close()
				return err
			}
			copy(h.Digest[:], digest)
			h.Until = fromNull(until)
			hashes = append(hashes, h)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		k := stored.Clone()
		if hashes, fnErr = fn(k, hashes); fnErr != nil {
			return fnErr
		}
		events, per, burst, name := rateColumns(k.RateLimit)
		if err := tx.QueryRow(ctx, updateKeySQL, id,
			k.Hint, k.Name, permissions(k.Permissions), metadata(k.Metadata), string(k.Status), k.UpdatedAt, nullTime(k.ExpiresAt),
			events, per, burst, name, k.RemainingUses).Scan(&k.Version); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, deleteHashesSQL, id); err != nil {
			return err
		}
		for _, h := range hashes {
			if _, err := tx.Exec(ctx, insertHashSQL, h.Digest[:], id, h.Pepper, nullTime(h.Until)); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, notifySQL, Channel, id); err != nil {
			return err
		}
		k.ID, k.Owner, k.Prefix, k.CreatedAt, k.LastUsedAt = stored.ID, stored.Owner, stored.Prefix, stored.CreatedAt, stored.LastUsedAt
		out = k
		return nil
	})
	if fnErr != nil {
		return nil, fnErr
	}
	if err != nil {
		return nil, wrap("updating a key", err)
	}
	return out, nil
}

// Consume implements apikey.Store: one UPDATE … RETURNING.
func (s *Store) Consume(ctx context.Context, id string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, consumeSQL, id).Scan(&n)
	if err == nil {
		return n, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, wrap("taking a use", err)
	}
	var left *int64
	if err := s.pool.QueryRow(ctx, remainingSQL, id).Scan(&left); err != nil {
		return 0, wrap("taking a use", err)
	}
	if left == nil {
		return -1, nil
	}
	return 0, apikey.ErrExhausted
}

// Touch implements apikey.Store: one UPDATE for the whole batch, which
// leaves rows alone whose last_used_at is within minInterval.
func (s *Store) Touch(ctx context.Context, uses []apikey.Use, minInterval time.Duration) error {
	if len(uses) == 0 {
		return nil
	}
	ids := make([]string, len(uses))
	ats := make([]time.Time, len(uses))
	for i, u := range uses {
		ids[i], ats[i] = u.ID, u.At
	}
	_, err := s.pool.Exec(ctx, touchSQL, ids, ats, minInterval.Microseconds())
	return wrap("writing last-used times", err)
}

// Watch implements apikey.Watcher with LISTEN on Channel. It logs the
// loss of its subscription once, at Warn, and the recovery at Info.
func (s *Store) Watch(ctx context.Context, changed func(id string)) error {
	backoff := 50 * time.Millisecond
	down := false
	subscribed := func() {
		backoff = 50 * time.Millisecond
		if down {
			down = false
			s.log.Info("apikey/pgstore: listening for key changes again")
		}
		changed("")
	}
	for {
		err := s.listen(ctx, changed, subscribed)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !down {
			down = true
			s.log.Warn("apikey/pgstore: lost the key-change subscription; reconnecting, caches are bounded by CacheTTL meanwhile", "err", err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// listen runs one subscription until its connection fails, calling
// subscribed once LISTEN is in place.
func (s *Store) listen(ctx context.Context, changed func(string), subscribed func()) error {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	conn := pc.Hijack()
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, listenSQL); err != nil {
		return err
	}
	subscribed()
	for {
		wctx, cancel := context.WithTimeout(ctx, s.quiet)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			if n.Channel == Channel && n.Payload != "" {
				changed(n.Payload)
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err):
			// Quiet for a while: make sure the connection is alive.
			pctx, cancel := context.WithTimeout(ctx, s.quiet)
			_, err := conn.Exec(pctx, pingSQL)
			cancel()
			if err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// keyColumns holds the nullable columns of a key row while it is scanned.
type keyColumns struct {
	expires, lastUsed *time.Time
	events, burst     *int32
	per               *int64
	rateName          *string
	status            string
}

// scanKey reads a key row, in the column order of the queries above,
// followed by the columns of extra.
func scanKey(row pgx.Row, extra ...any) (*apikey.Key, error) {
	var k apikey.Key
	var c keyColumns
	dest := append([]any{&k.ID, &k.Prefix, &k.Hint, &k.Name, &k.Owner.ID, &k.Owner.OrgID, &k.Owner.AppID, &k.Permissions, &k.Metadata,
		&c.status, &k.CreatedAt, &k.UpdatedAt, &c.expires, &c.lastUsed,
		&c.events, &c.per, &c.burst, &c.rateName, &k.RemainingUses, &k.Version}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	c.fill(&k)
	return &k, nil
}

func (c *keyColumns) fill(k *apikey.Key) {
	k.Status = apikey.Status(c.status)
	k.CreatedAt, k.UpdatedAt = k.CreatedAt.UTC(), k.UpdatedAt.UTC()
	k.ExpiresAt, k.LastUsedAt = fromNull(c.expires), fromNull(c.lastUsed)
	if c.events != nil && c.per != nil {
		l := &ratelimit.Limit{Events: int(*c.events), Per: time.Duration(*c.per)}
		if c.burst != nil {
			l.Burst = int(*c.burst)
		}
		if c.rateName != nil {
			l.Name = *c.rateName
		}
		k.RateLimit = l
	}
	if len(k.Permissions) == 0 {
		k.Permissions = nil
	}
	if len(k.Metadata) == 0 {
		k.Metadata = nil
	}
}

func rateColumns(l *ratelimit.Limit) (events *int32, per *int64, burst *int32, name *string) {
	if l == nil {
		return nil, nil, nil, nil
	}
	e, p, b, n := int32(l.Events), int64(l.Per), int32(l.Burst), l.Name
	return &e, &p, &b, &n
}

func permissions(p []string) []string {
	if p == nil {
		return []string{}
	}
	return p
}

func metadata(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func fromNull(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// wrap maps pgx's answers to apikey's errors and wraps the rest.
func wrap(doing string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return apikey.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return apikey.ErrConflict
	}
	return fmt.Errorf("apikey/pgstore: %s: %w", doing, err)
}
