// Package lazyclaims lets a verifier build a principal.Principal whose
// claims are kept as the token's encoded claims and decoded on first use,
// without an exported name in package principal: principal sets New when it
// is initialised, and the verifier (package jwt) calls it.
//
// It exists for the verified-token cache, which keeps a principal for every
// token it holds: decoded claims (a map, its keys, its values) were most of
// a cached principal's size, and the encoded claims cost nothing, being a
// substring of the token the cache keeps anyway.
package lazyclaims

// New returns a *principal.Principal made from f (a principal.Fields,
// whose Claims are ignored) whose claims are decode(raw), run once, the
// first time the principal's claims are read. decode must return the same
// claims every time for the same raw; should it fail, the principal has no
// claims. New is nil until package principal is initialised.
var New func(f any, raw string, decode func(string) (map[string]any, error)) any
