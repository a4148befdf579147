package demo

import (
	"encoding/base64"
	stderrors "errors"
	"net/url"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/pgtest"
	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/issuer/pgstore"
)

func TestKEKIsThirtyTwoBase64BytesAndNeverEchoed(t *testing.T) {
	key := strings.Repeat("k", 32)
	for _, tt := range []struct {
		name, in, err string
	}{
		{"a 32-byte key is accepted", base64.StdEncoding.EncodeToString([]byte(key)), ""},
		{"no key says where to put one", "", "$TOLLGATE_KEK or -kek"},
		{"a short key is refused", base64.StdEncoding.EncodeToString([]byte("short-secret")), "must be 32 bytes"},
		{"a key not in base64 is refused", "not base64 secret!", "must be 32 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := KEK(tt.in)
			if tt.err == "" {
				if err != nil || string(got) != key {
					t.Fatalf("KEK = %q, %v", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want one saying %q", err, tt.err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("the error echoes the key: %v", err)
			}
		})
	}
}

func TestOpenPostgresMigratesTheIssuerSchema(t *testing.T) {
	_, schema := pgtest.Schema(t, nil)
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()

	if _, _, err := OpenPostgres(t.Context(), u.String(), "not base64"); err == nil {
		t.Fatal("opened with a malformed key-encryption key")
	}
	kek := base64.StdEncoding.EncodeToString(make([]byte, pgstore.KEKSize))
	pool, key, err := OpenPostgres(t.Context(), u.String(), kek)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	clients := pgstore.NewClientStore(pool)
	if _, err := clients.Client(t.Context(), "nobody"); !stderrors.Is(err, issuer.ErrNotFound) {
		t.Fatalf("a client store on the migrated schema: %v", err)
	}
	if _, err := pgstore.NewKeyStore(pool, key); err != nil {
		t.Fatal(err)
	}
}
