package issuer_test

import (
	"testing"

	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/issuer/internal/storetest"
)

func TestMemoryGrantStore(t *testing.T) {
	storetest.Grants(t, func(*testing.T) issuer.GrantStore { return &issuer.MemoryGrantStore{} })
}
