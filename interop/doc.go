// Package interop tests tollgate against real authorization servers built
// from published Go libraries: zitadel/oidc's OpenID Provider and Ory
// fosite. Each test starts its servers on 127.0.0.1, gets tokens with
// golang.org/x/oauth2 as a real client would, and calls an API guarded by
// tollgate with them. tollgate's own issuer is driven by x/oauth2 and, for
// the authorization code grant, by zitadel/oidc's relying party; see
// README.md for what each test shows.
//
// It is its own module so that users of tollgate never download these
// servers. Everything it contains is in _test.go files; run it with
//
//	go test -race -count=1 ./...
package interop
