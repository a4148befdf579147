// Package issuer mints the credentials tollgate checks: signing keys
// rotated on a schedule and published as a JWKS, RFC 9068 access tokens,
// opaque refresh tokens in sessions with reuse detection, and a registry of
// OAuth clients. It may import the checking packages (it hands its keys to
// jwt in-process); they never import it.
//
// # The pieces
//
//   - KeyRing generates signing keys (ES256 by default; EdDSA and RS256 by
//     KeyRingConfig.Algorithm) and rotates them: a key signs for
//     SignPeriod (24 h), is published PublishAhead (1 h) before it signs,
//     and stays published MaxTokenLifetime (24 h) + Leeway (5 min) after
//     its successor takes over. Keys live in a KeyStore: MemoryKeyStore, or
//     pgstore.KeyStore (sealed with AES-256-GCM under a key-encryption
//     key), where every replica finds the same current key and tokens
//     survive restarts. Call Run (or Rotate on your own schedule).
//     A Signer is the key's interface: a KMS-held key is a Signer of yours
//     behind FixedKeys.
//   - NewJWKSHandler serves the keys, with Cache-Control max-age equal to
//     PublishAhead. A service that verifies its own tokens gives the
//     KeyRing to jwt.Issuer.KeySource instead, and sees each rotation at
//     once without HTTP.
//   - Minter mints access tokens: typ at+jwt, iss, sub, aud, client_id,
//     scope, jti, iat, exp, sid; one hour by default, per grant
//     (MinterConfig.GrantLifetimes) or per client (AccessRequest.Lifetime),
//     never longer than the keys' MaxTokenLifetime; extra claims by a hook
//     that cannot override these; scope space-separated, or a JSON array
//     with MinterConfig.ScopeArray.
//   - Sessions issues refresh tokens: 256 random bits, stored as SHA-256,
//     single use, rotated on every refresh, with an absolute lifetime (7
//     days by default) and an idle one per client. A refresh token
//     presented twice ends its whole session (RFC 9700 §4.14.2), and
//     OnSessionEnded hands the sid to the revocation layer, so the
//     session's access tokens are refused too (RevokeSessions,
//     revocation.Memory.RevokeSession).
//   - Clients registers OAuth clients: secrets hashed with argon2id
//     (DefaultArgon2Params), allowed grants and scopes, scopes restricted
//     to grants (Client.GrantScopes), lifetimes.
//   - Grants keeps the authorization code grant's state: each user's
//     consent to a client (Grant: user × client × scopes, in a GrantStore)
//     and the codes issued under it (CodeStore). Revoke is the user
//     removing an app.
//
// # The authorization code grant
//
// NewAuthorizeHandler is the authorization endpoint (RFC 6749 §4.1) and
// tollgate's half of it: it checks the request, then hands it to the
// provider's own login and consent page (AuthorizeConfig.Interact), which
// authenticates the user and calls AuthorizationRequest.Approve; tollgate
// records the consent, issues the code and redirects. The choices:
//
//   - A redirect_uri must equal one of Client.RedirectURIs byte for byte
//     (RFC 9700 §4.1.3), but for the port of a public client's http
//     redirect to a loopback IP (RFC 8252 §7.3); registration refuses
//     relative URIs, fragments, userinfo, script schemes, non-ASCII and
//     plain http off loopback. An error before the redirect URI is
//     trusted is shown on a page (AuthorizeConfig.ErrorPage), never
//     redirected.
//   - PKCE (RFC 7636) is S256 only. Public clients (Client.Public: no
//     secret; client_id alone at the token endpoint, on the
//     authorization_code and refresh_token grants only) must use it; with
//     AuthorizeConfig.RequirePKCE every client must. A code_verifier for a
//     code issued without a challenge is refused (a downgrade). A public
//     client may also name itself by Basic with an empty password.
//     TokenConfig.FirstPartyClient never stands in for a client redeeming
//     a code (that needs the client's secret, or a public client), nor,
//     on refresh, for a confidential client that has the code grant.
//   - A code is 256 random bits, stored as its SHA-256, lives
//     GrantsConfig.CodeLifetime (60 s, the most allowed) and is bound to
//     its client, redirect URI, challenge, user, scopes and grant. A
//     request that fails a binding spends nothing: the right client can
//     still redeem it. Redeeming it starts a refresh session (its
//     refresh token is returned if the client has the refresh_token
//     grant) and the access token carries that "sid"; presenting the code
//     again, by anyone, ends that session, so the tokens issued from it
//     are refused (§4.1.2), if it comes within CodeReplayWindow.
//   - The authorization response carries code, state and iss (RFC 9207);
//     errors error, error_description, state and iss. A POST (the
//     consent form) is answered 303, a GET 302.
//   - Grants.Revoke tells GrantsConfig.OnGrantRevoked first, whose
//     RevokeGrantTokens adds a revocation rule for the user and client
//     (the access tokens already issued fail verification on every
//     replica that checks it), then deletes the consent, which makes codes
//     issued under it unredeemable, and ends the user's sessions with the
//     client. If the rule cannot be written, nothing changes and Revoke
//     says so: the user is not told the app is gone while its tokens work.
//
// # The endpoints
//
// An API provider's token side is configuration of five handlers:
//
//   - NewTokenHandler is one token endpoint (RFC 6749 §3.2) for the
//     grants of TokenConfig.Grants: client_credentials (§4.4), the
//     first-party login (the password grant, §4.3: the provider's
//     LoginFunc checks the password, tollgate mints the tokens and starts
//     a refresh session; TokenConfig.Accounts checks the account's IP
//     allow-list before the password, and again on refresh, by the
//     username the session keeps as Session.Account),
//     authorization_code (§4.1.3, with TokenConfig.CodeGrants) and
//     refresh_token (§6: rotation through Sessions; a reused token ends
//     its family; another client's token is invalid_grant and does not
//     rotate; scope may narrow, never widen). It reads form, multipart
//     and JSON bodies up to 64 KiB (DefaultTokenBodyBytes; 413 beyond),
//     one client authentication per request (Basic or the body), a public
//     client's client_id alone, or none for TokenConfig.FirstPartyClient.
//     NewClientCredentialsHandler is
//     the same endpoint for client_credentials and form bodies alone.
//   - NewRevocationHandler is RFC 7009's: a refresh token ends its
//     session family, an access token is revoked by jti through an
//     AccessTokenRevoker (redisrevocation.Store, or revocation.Memory by
//     RevokeIDs); 200 for unknown tokens; the client authenticates (a
//     public client by its client_id).
//   - NewAuthorizeHandler is the authorization endpoint of the
//     authorization code grant (above).
//   - NewMetadataHandler serves RFC 8414's
//     /.well-known/oauth-authorization-server; NewJWKSHandler the keys.
//   - KeyByTokenClient and KeyByTokenAccount are ratelimit.KeyFunc values
//     reading the client id (Basic or body) and the login's username
//     without consuming the body: put ratelimit.New in front of the
//     endpoint with them.
//
// Every endpoint bounds a request's work on the stores, the secret hash
// and the login by its Timeout (DefaultEndpointTimeout, 5 s): a store
// that stalls is an outage, answered 503 temporarily_unavailable, and
// nothing is issued.
//
// Refusals are RFC 6749 §5.2's JSON by default (invalid_request,
// invalid_client with 401 and a Basic challenge, invalid_grant,
// unauthorized_client, unsupported_grant_type, invalid_scope), always
// with Cache-Control: no-store. A provider answers in its own envelope by
// TokenConfig.ErrorFormat (an errors.Format: errors.Message for
// {"message":"Unauthorized"}, a FormatFunc for a B2B envelope), or by
// wrapping the handler in errors.Use, which is honoured unless the
// format is errors.OAuth (whose token-endpoint form is §5.2). The
// format sees the Kind (KindInvalidClient, KindInvalidGrant, …,
// errors.PayloadTooLarge) and a client-safe message; the challenge stays
// Basic, on 401 only. A refused request changes nothing: no token is
// minted, no session started, no refresh token rotated; the one exception
// is by design, a reused refresh token, which ends its family.
//
// Every store is an interface with a memory implementation here, for one
// process and tests, and a PostgreSQL one in issuer/pgstore. Every type
// takes its clock as a Now func, so tests move time by hand.
//
// Tokens and secrets travel as Token, whose String and LogValue redact
// them; private keys as PrivateKey, likewise.
package issuer
