// Package redisrevocation keeps tollgate's revocation lists in Redis, so
// that a token revoked through one replica is refused by all of them from
// the next request on.
//
// # Keys
//
// Each revocation is one key, set with SET … PXAT until+Leeway, so Redis
// itself drops it once the verifier would refuse the token anyway, and
// memory stays bounded by the revoked tokens still alive. Beside them is
// one epoch key, which says the list is whole:
//
//	{<prefix>}jti:<jti>           a token ID (Principal.TokenID)
//	{<prefix>}tok:<sha256 hex>    a token, by revocation.TokenHash (of a JWT,
//	                              the SHA-256 of header.payload)
//	{<prefix>}epoch               written by Restore; never expires
//	{<prefix>}rules               a hash: one field per revocation.Rule and
//	                              per ended session (RevokeSession)
//	{<prefix>}rules:v             the rules' version, a new random value at
//	                              every change
//
// A check is one command, MGET of the epoch, the rules' version and the
// token's keys. Ended sessions (RevokeSession) and rules (subjects,
// clients, grants, suspensions: RevokeRule, LiftRule) are matched against
// a local copy of the rules hash, in memory; a check that reads a version or epoch other than its copy's
// reloads the hash first (one reload per change per replica, under the
// check's timeout), so a rule takes effect on every replica from its next
// check on, without a round trip of its own. Ended rules are dropped from
// the hash by the next reload. A copy that cannot be read back whole fails
// the check by the outage policy; with FailOpen, the last copy's rules still
// refuse what they match while Redis is out.
//
// The prefix in braces is a Redis Cluster hash tag: every key of a store is
// in one slot, so that the MGET never fails with CROSSSLOT and the epoch is
// always on the node that holds the revocations it vouches for. Spreading
// the keys over slots would need an epoch per slot and a check that reads
// two slots (a token revoked by its hash cannot be filed under its jti,
// which the revoker may not know), so two nodes per check. The cost of one
// slot is that one master serves a store's checks: a fleet whose checks
// outgrow it can let replicas answer them (ClusterOptions.ReadOnly), at the
// price of their replication lag. Braces in a jti are harmless: the first
// {…} of a key is the tag, and it is the prefix's.
//
// Keys written by versions before the hash tag are not read: after an
// upgrade, the first check finds no epoch and Republish writes the list
// anew.
//
// # Outages and the outage policy
//
// A check is bounded by Config.Timeout (DefaultTimeout, 50 ms), the
// client's own retries, redirects and connection waits included. Build the
// client with ContextTimeoutEnabled: true, which makes go-redis bound its
// reads and writes by that deadline; any other client works too, but each
// check then runs on a goroutine of its own that is abandoned at the
// deadline.
//
// When Redis fails, does not answer in time, or has lost the list, the
// outage policy answers. By default the store fails closed: Revoked returns
// an *errors.Error of kind Unavailable, and middleware.Authenticate refuses
// the request with 503, since a revocation list that cannot be read must
// not let a revoked token through. With Config.FailOpen, Revoked reports
// the token as not revoked instead, so requests go on while Redis is away,
// and revoked tokens with them. Either way the store logs the outage, one
// line every 10 seconds at most (with the count of those left out), and
// one when Redis answers again. Every check tries Redis: it recovers with
// the first answer.
//
// go-redis writes a line of its own for every failed dial, through
// redis.SetLogger's logger, which is not rate-limited; route it to a
// logger of your own to keep an outage from flooding the log.
//
// # Lost data
//
// A Redis restarted without persistence, flushed, replaced, or evicting
// keys does not fail: it answers that nothing is revoked. The epoch tells
// the two apart: a check that finds it missing treats the list as lost,
// which is an outage (the policy above) until the revocations are
// republished. Config.Republish is how the store gets them back: a function
// that revokes again, from the application's own records, every revocation
// still in force. The first check that finds the list lost runs it in the
// background; when it returns, Restore writes a new epoch and checks pass
// again. If Redis loses its data again while Republish runs, the epoch is
// not written and the next check starts over. On a new Redis the same
// happens, so a fleet with Republish starts by itself; calling Restore at
// start-up does it before the first request rather than during it. Without
// Republish a lost list stays unavailable until the application calls
// Store.Restore, which also starts a new list on a new Redis.
//
// The epoch sees a list lost whole. It cannot see a partial loss, in which
// the epoch survives and recent revocations do not, so configure Redis to
// avoid one (Store.CheckServer reports a server that does not):
//
//   - appendonly yes, with appendfsync everysec (a killed redis-server
//     loses nothing; a crash of the host can lose the last second) or
//     always. RDB snapshots alone bring back an older list, epoch included.
//   - maxmemory-policy noeviction. Every other policy drops keys when
//     memory is full, revocations first under the volatile-* policies;
//     under noeviction a revocation that does not fit is refused with an
//     error, which its caller sees.
//   - On a failover, asynchronous replication can lose the revocations the
//     old master had not yet sent; min-replicas-to-write 1 bounds how many.
//
// # Redis Cluster
//
// When the master of the store's slot fails, its replica is promoted
// within the cluster's node timeout, but go-redis reloads its slot map
// only on MOVED and every ClusterStateReloadInterval (60 s), and a master
// that is gone answers no MOVED. The store therefore asks the cluster
// client to reload its map whenever a check fails, and checks pass again
// as soon as the replica is promoted (about 2.3 s after the master was
// killed, with a node timeout of 1 s, in this package's tests). A
// *redis.ClusterClient built with ContextTimeoutEnabled: true and nothing
// else is enough:
//
//	client := redis.NewClusterClient(&redis.ClusterOptions{
//		Addrs:                 []string{"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"},
//		ContextTimeoutEnabled: true, // Config.Timeout bounds each check
//	})
//	revoked := redisrevocation.New(client, redisrevocation.Config{Republish: republish})
//
// Unlike revocation.Memory, a check must hash every token (other replicas
// may revoke by hash at any time); a SHA-256 costs far less than the round
// trip.
//
// Store.Ready, for a readiness probe (see package health), is one EXISTS of
// the epoch key: an error when Redis does not answer within the probe's
// deadline (and Timeout), ErrNoEpoch when it answers without the list.
package redisrevocation
