package pgstore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	stderrors "errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tollgate/tollgate/issuer"
)

// KEKSize is the size of a key-encryption key: 32 bytes, for AES-256-GCM.
const KEKSize = 32

// KeyStore is an issuer.KeyStore on PostgreSQL. Private keys are stored
// sealed with AES-256-GCM under a key-encryption key (KEK) from the
// application's configuration, with a random 96-bit nonce per key and the
// key's id as associated data, so a sealed key copied onto another row
// does not open. The KEK and the private keys are never logged and never
// part of an error. It is safe for concurrent use.
type KeyStore struct {
	pool *pgxpool.Pool
	aead cipher.AEAD
}

// NewKeyStore returns a KeyStore on pool sealing private keys under kek,
// which must be KEKSize random bytes (from a secret manager, never the
// source tree). The tables must exist: call Migrate first. A key that
// does not open under kek (another KEK, a tampered row) makes Keys fail,
// so a KeyRing on the wrong KEK refuses to start rather than sign with
// keys of its own. Changing the KEK means re-sealing the rows, or letting
// the old keys expire and deleting them first.
func NewKeyStore(pool *pgxpool.Pool, kek []byte) (*KeyStore, error) {
	if len(kek) != KEKSize {
		return nil, fmt.Errorf("pgstore: the key-encryption key is %d bytes, want %d", len(kek), KEKSize)
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &KeyStore{pool: pool, aead: aead}, nil
}

const (
	keysSQL      = `SELECT id, generation, algorithm, private_enc, created_at, not_before FROM tollgate_issuer_keys`
	addKeySQL    = `INSERT INTO tollgate_issuer_keys (id, generation, algorithm, private_enc, created_at, not_before) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`
	deleteKeySQL = `DELETE FROM tollgate_issuer_keys WHERE id = $1`
)

var errUnseal = stderrors.New("pgstore: a signing key does not open under the key-encryption key")

// Keys returns every key, opened. A key that does not open (another KEK,
// a tampered row) is an error naming its id only.
func (s *KeyStore) Keys(ctx context.Context) ([]issuer.KeyRecord, error) {
	rows, err := s.pool.Query(ctx, keysSQL)
	if err != nil {
		return nil, fmt.Errorf("pgstore: reading signing keys: %w", err)
	}
	defer rows.Close()
	var out []issuer.KeyRecord
	for rows.Next() {
		var k issuer.KeyRecord
		var sealed []byte
		if err := rows.Scan(&k.ID, &k.Generation, &k.Algorithm, &sealed, &k.CreatedAt, &k.NotBefore); err != nil {
			return nil, fmt.Errorf("pgstore: reading signing keys: %w", err)
		}
		n := s.aead.NonceSize()
		if len(sealed) < n {
			return nil, fmt.Errorf("%w (key %q)", errUnseal, k.ID)
		}
		der, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(k.ID))
		if err != nil {
			return nil, fmt.Errorf("%w (key %q)", errUnseal, k.ID)
		}
		k.Private = der
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: reading signing keys: %w", err)
	}
	return out, nil
}

// Add seals and stores k, or returns issuer.ErrConflict if its generation
// or id is taken: the unique constraint is what makes replicas agree.
func (s *KeyStore) Add(ctx context.Context, k issuer.KeyRecord) error {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(k.Private)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	sealed := s.aead.Seal(nonce, nonce, k.Private, []byte(k.ID))
	tag, err := s.pool.Exec(ctx, addKeySQL, k.ID, k.Generation, k.Algorithm, sealed, k.CreatedAt, k.NotBefore)
	if err != nil {
		return fmt.Errorf("pgstore: adding signing key %q: %w", k.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return issuer.ErrConflict
	}
	return nil
}

// Delete removes the key with this id.
func (s *KeyStore) Delete(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, deleteKeySQL, id); err != nil {
		return fmt.Errorf("pgstore: removing signing key %q: %w", id, err)
	}
	return nil
}
