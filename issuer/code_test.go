package issuer_test

import (
	"testing"

	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/issuer/internal/storetest"
)

func TestMemoryCodeStore(t *testing.T) {
	storetest.Codes(t, func(*testing.T) issuer.CodeStore { return &issuer.MemoryCodeStore{} })
}
