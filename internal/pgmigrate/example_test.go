package pgmigrate_test

import (
	"fmt"
	"testing/fstest"

	"github.com/tollgate/tollgate/internal/pgmigrate"
)

// A package's migrations: Apply(ctx, pool) runs 0001 then 0002, each once.
func Example() {
	set := pgmigrate.Set{
		Files: fstest.MapFS{
			"migrations/0001_keys.sql":   {Data: []byte(`CREATE TABLE keys (id text PRIMARY KEY)`)},
			"migrations/0002_expiry.sql": {Data: []byte(`ALTER TABLE keys ADD COLUMN expires_at timestamptz`)},
		},
		Dir:    "migrations",
		Table:  "example_migrations",
		Lock:   0x6578616d706c65,
		Prefix: "example",
	}
	fmt.Println(set.Table, set.Dir)
	// Output: example_migrations migrations
}
