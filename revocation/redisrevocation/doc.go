// Package redisrevocation keeps tollgate's revocation lists in Redis, so
// that a token revoked through one replica is refused by all of them from
// the next request on.
//
// Each revocation is one key, set with SET … PXAT until, so Redis itself
// drops it when the token would have expired anyway and memory stays
// bounded by the revoked tokens still alive:
//
//	<prefix>jti:<jti>           a token ID (Principal.TokenID)
//	<prefix>tok:<sha256 hex>    a token, by revocation.TokenHash (of a JWT,
//	                            the SHA-256 of header.payload)
//
// A check is one round trip: the EXISTS of both keys, pipelined (only the
// token key when the principal has no jti). Every command names a single
// key, so the keys may fall in any slot of a Redis Cluster and a jti
// containing braces changes only which slot its key falls in; a hash tag in
// Prefix is allowed and pins every revocation to one slot. On a Cluster or
// Ring client the two EXISTS may go to two nodes, concurrently.
//
// Unlike revocation.Memory, a check must hash every token (other replicas
// may revoke by hash at any time); a SHA-256 costs far less than the round
// trip.
//
// A Redis error fails closed: Revoked returns an *errors.Error of kind
// Unavailable, and middleware.Authenticate refuses the request with 503. A
// revocation list that cannot be read must not let a revoked token through.
package redisrevocation
