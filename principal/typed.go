package principal

// ClaimsAs returns the typed claims a verifier decoded from p's token
// (Fields.TypedClaims, made by jwt.DecodeClaims[T]), and whether p has
// typed claims of type T. It does not allocate and copies no claim: the
// decode ran once, when the token was first verified, and every request
// that presents the same token gets the same value.
//
// The result is a copy of the value the verifier stored, so a T that is a
// plain struct of strings, numbers and booleans may be changed freely. The
// slices, maps and pointers inside it are shared with every other request
// that presents the token, at the same time: treat them as read-only, and
// copy them before changing them.
func ClaimsAs[T any](p *Principal) (T, bool) {
	if p == nil {
		var zero T
		return zero, false
	}
	t, ok := p.f.TypedClaims.(T)
	return t, ok
}
