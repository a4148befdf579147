package pgstore_test

import (
	"testing"

	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/issuer/internal/storetest"
	"github.com/tollgate/tollgate/issuer/pgstore"
)

func TestPostgresGrantStore(t *testing.T) {
	storetest.Grants(t, func(t *testing.T) issuer.GrantStore { return pgstore.NewGrantStore(newSchema(t)) })
}
