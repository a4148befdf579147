package issuer_test

import (
	"testing"

	"github.com/tollgate/tollgate/issuer"
	"github.com/tollgate/tollgate/issuer/internal/storetest"
)

func TestMemorySessionStore(t *testing.T) {
	storetest.Sessions(t, func(*testing.T) issuer.SessionStore { return &issuer.MemorySessionStore{} })
}
