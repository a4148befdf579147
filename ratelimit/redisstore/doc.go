// Package redisstore shares tollgate's rate limits between replicas through
// Redis: a ratelimit.Store whose token buckets live in Redis, so a client
// that spreads its requests over every replica still gets one budget.
//
//	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
//		Addrs:                 []string{"redis:6379"}, // several: a Cluster
//		ContextTimeoutEnabled: true,
//	})
//	limit := ratelimit.New(ratelimit.Config{
//		Limits: []ratelimit.Limit{{Events: 100, Per: time.Minute}},
//		Store:  redisstore.New(redisstore.Config{Client: rdb, Replicas: 3}),
//	})
//
// # One round trip, one clock
//
// Each decision is one Lua script (EVALSHA; New loads the script, and a
// server that lost it gets it by EVAL). It reads the server's clock with
// TIME, so replicas with skewed clocks still agree, and decides all of a
// key's limits atomically, as the in-memory store does, by the same
// algorithm: each bucket is one string, its plan and the time it is full
// again, read with GET and written with one SET … PX; the same carry-over
// by limit name when a key's limits change, the same headers (a token's
// time is rounded up to the microsecond here, to the nanosecond in
// memory). A key expires once its bucket would be full again, so Redis
// holds only keys active within their window.
//
// Config.Client is any redis.Scripter: a *redis.Client, a
// *redis.ClusterClient, a UniversalClient, or a *redis.AutoPipeliner,
// which sends concurrent decisions together in pipelines.
//
// # Keys
//
// A request key's limits are stored under
//
//	Prefix + "{" + hex(SHA-256(key)[:16]) + "}:" + limit name
//
// so that they share one hash slot and the script runs on Redis Cluster.
// The hash tag is the key's digest, never the key: an application key is
// whatever its KeyFunc returns (a header, a client id), and one holding
// braces ("}{", "{}", "a{b}c", "{x}") would otherwise give its limits an
// empty or foreign hash tag, spreading them over slots (CROSSSLOT) or piling
// other keys onto its slot. Redis keys do not grow with the application
// key.
//
// # When Redis fails
//
// The outage policy decides what a request gets when Redis cannot decide
// it: by default a local in-memory limiter (Config.Fallback) decides it, so
// limits still hold; with Config.FailClosed it is refused with 503
// unavailable and Retry-After. The policy applies to exactly these
// requests:
//
//   - A decision that fails (no answer within its time, a broken
//     connection, a reply saying the server cannot serve) follows the
//     policy for its own request. The next request asks Redis again.
//   - Config.TripAfter failures in a row (default 5) on one server trip
//     its switch: the keys that server serves follow the policy without
//     asking it, so no request waits on a Redis that is down. After
//     Config.RetryInterval (default 1 s) one request tries it again; when
//     it succeeds, the keys are back on Redis. On a Cluster each master has
//     its own switch: a dead master affects the keys of its slots only.
//   - A reply about the key rather than the server (WRONGTYPE, CROSSSLOT)
//     follows the policy for that request and trips nothing.
//
// So one slow reply costs one request its shared decision, never the whole
// store's. The trip and the recovery are logged through Config.Logger, at
// most once per kind every 10 seconds with the number dropped, and counted
// by Stats; go-redis's own dial errors can be routed through slog too (see
// LogRedisThroughSlog).
//
// # Time
//
// A decision has Config.Timeout (default 100 ms) on a connection that is
// ready, and Config.ConnectTimeout (default 500 ms) more when it may have to
// get a connection first (the pool holds no more idle connections to the
// server than the store has decisions in flight there): setting one up
// takes round trips of its own, which say nothing about Redis being slow,
// and a Redis 25 ms away needs them. New opens a few connections to every
// server and loads the script in the background, so the first requests
// seldom need that. Under concurrency, then, a slow Redis is judged against
// Timeout + ConnectTimeout: a decision waiting for a connection that is
// busy with a slow reply cannot tell the two apart. No request waits longer than Timeout + ConnectTimeout
// (on a Cluster, as long again the first time its slot map is loaded), and
// while a switch is tripped only the one request per RetryInterval that
// tries Redis waits on it. Build the client with ContextTimeoutEnabled:
// true, or these bounds do not hold.
//
// # One budget, on Redis or not
//
// After every decision on Redis, a Fallback that can be told (the default
// MemoryStore, through its Observe method) learns what Redis said of the
// key's buckets, in a fixed-size structure that needs no memory per key. A
// key decided locally starts from that, refilled by the time since, and
// gives up what Redis spent since on top of what it admitted itself: a
// client that spent its quota on Redis finds it spent when Redis fails.
// With Config.Replicas above one, each replica's Fallback enforces its fair
// share, every limit's capacity (rounded down, at least 1) and rate divided
// by Replicas, starting from its share of what Redis said was left, so that
// Replicas replicas together admit no more than the limit.
//
// The other way round, every request the fallback admits is owed to Redis:
// the key's next decision there takes it from every limit first, so what
// was admitted during an outage, or when one decision failed, is charged
// to the shared budget once Redis answers (a debt lapses after the limits'
// longest Window; at most 100,000 keys owe at once).
//
// What is approximate: a replica knows only what Redis said in its own last
// decision on the key, so the others' requests since are not counted
// until it hears from Redis again; a key a replica never decided on Redis
// starts from its full fair share; a replica whose switch tripped admits
// its share while the others may still spend the whole limit on Redis,
// until its debts are paid; and the errors are toward refusing where they
// can be: a decision that timed out after Redis ran it is charged twice,
// and the fixed-size structure, when crowded, remembers keys as more spent
// than they were (see ratelimit.MemoryStore).
//
// # Redis Cluster
//
// A *redis.ClusterClient follows MOVED by itself but, when a master stops
// answering, keeps sending its slots there until its next periodic reload
// (ClusterStateReloadInterval, 60 s by default), long after a replica took
// over. The store asks the client to reload its slot map (at most every
// 100 ms) whenever a decision fails for want of an answer, and while a
// master's switch is tripped, so that decisions are back on Redis within a
// reload of the failover, with the client built as above and no other
// setting.
//
// Store.Ready, for a readiness probe (see package health), PINGs the
// server, or every master of a Cluster, within the probe's deadline and
// Timeout + ConnectTimeout.
package redisstore
