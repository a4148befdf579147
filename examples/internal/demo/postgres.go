package demo

import (
	"context"
	"encoding/base64"
	stderrors "errors"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/issuer/pgstore"
)

// KEK decodes the base64 key-encryption key that seals the issuer's
// private keys in PostgreSQL (pgstore.NewKeyStore). Its errors never echo
// the key.
func KEK(s string) ([]byte, error) {
	if s == "" {
		return nil, stderrors.New("-postgres needs a key-encryption key: 32 bytes, base64, in $TOLLGATE_KEK or -kek")
	}
	k, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(k) != pgstore.KEKSize {
		return nil, fmt.Errorf("the key-encryption key must be %d bytes, base64-encoded", pgstore.KEKSize)
	}
	return k, nil
}

// OpenPostgres is what -postgres URL and -kek do: it decodes the
// key-encryption key kek (empty: $TOLLGATE_KEK), opens a pool on url and
// applies issuer/pgstore's migrations. The caller closes the pool.
func OpenPostgres(ctx context.Context, url, kek string) (*pgxpool.Pool, []byte, error) {
	if kek == "" {
		kek = os.Getenv("TOLLGATE_KEK")
	}
	key, err := KEK(kek)
	if err != nil {
		return nil, nil, err
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pgstore.Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("postgres: %w", err)
	}
	return pool, key, nil
}
