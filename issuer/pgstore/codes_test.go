package pgstore_test

import (
	"testing"

	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/issuer/internal/storetest"
	"github.com/tollgate/tollgate/issuer/pgstore"
)

func TestPostgresCodeStore(t *testing.T) {
	storetest.Codes(t, func(t *testing.T) issuer.CodeStore { return pgstore.NewCodeStore(newSchema(t)) })
}
