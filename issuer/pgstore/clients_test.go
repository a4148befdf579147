package pgstore_test

import (
	"testing"

	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/issuer/internal/storetest"
	"github.com/tollgate/tollgate/issuer/pgstore"
)

func TestPostgresClientStore(t *testing.T) {
	storetest.Clients(t, func(t *testing.T) issuer.ClientStore { return pgstore.NewClientStore(newSchema(t)) })
}
