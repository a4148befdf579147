package middleware

import (
	"context"

	"github.com/tollgate/tollgate/principal"
)

// Verifier turns a bearer token into the principal it stands for, or refuses
// it. Implementations return an *errors.Error (from
// github.com/tollgate/tollgate/errors) of kind InvalidToken, ExpiredToken or
// Unavailable; any other error is written as Unavailable without its text.
// Verify must be safe for concurrent use and must not keep token beyond the
// token's own lifetime.
type Verifier interface {
	Verify(ctx context.Context, token string) (*principal.Principal, error)
}

// VerifierFunc lets a function be a Verifier.
type VerifierFunc func(ctx context.Context, token string) (*principal.Principal, error)

// Verify calls f(ctx, token).
func (f VerifierFunc) Verify(ctx context.Context, token string) (*principal.Principal, error) {
	return f(ctx, token)
}
