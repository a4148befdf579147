// Package pgstore keeps package issuer's state on PostgreSQL, through
// github.com/jackc/pgx/v5 and a *pgxpool.Pool the application owns:
// signing keys (KeyStore), refresh sessions (SessionStore), clients
// (ClientStore), and the authorization code grant's codes (CodeStore) and
// users' consents (GrantStore). Each is safe to share between replicas:
// a refresh token, and an authorization code, is consumed by one
// conditional UPDATE, so of concurrent presentations on any replica
// exactly one wins.
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	if err := pgstore.Migrate(ctx, pool); err != nil { … }  // explicit, at start-up
//	keys, err := pgstore.NewKeyStore(pool, kek)             // kek: 32 bytes from a secret manager
//	ring, err := issuer.NewKeyRing(ctx, issuer.KeyRingConfig{Store: keys})
//
// # Schema
//
// Migrate applies the embedded migrations (migrations/*.sql) to the first
// schema of the connection's search_path, in one transaction under an
// advisory lock, so every replica may call it at start-up. Nothing is
// created at import time or by the constructors. Every query is a constant
// with placeholders; no value is spliced into SQL text.
//
// # Failure
//
// Every error other than issuer.ErrConflict, ErrNotFound, ErrCodeReused
// and the session errors is the database's, wrapped. pgstore does not
// retry; the pool reconnects.
package pgstore
