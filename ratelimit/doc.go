// Package ratelimit is tollgate's rate-limiting middleware: token buckets
// per key, the X-RateLimit-* headers on every response, and 429
// rate_limited refusals in the request's error format.
//
//	limit := ratelimit.New(ratelimit.Config{
//		Limits: []ratelimit.Limit{
//			{Name: "burst", Events: 10, Per: time.Second},
//			{Name: "hourly", Events: 1000, Per: time.Hour},
//		},
//	})
//	handler := errors.Use(errors.Envelope)(ipfilter(authenticate(limit(mux))))
//
// # The model
//
// Each Limit is a token bucket of Capacity tokens (Burst, or Events), full
// at first, refilled at Events per Per. A request takes one token from every
// limit of its key, or, if any of them has less than one, takes nothing and
// is refused. A key with several limits (a burst per second and a quota per
// hour) is therefore decided atomically. With Config.Cost a request takes
// its cost from every limit instead of one (on a WeightedStore: MemoryStore
// and redisstore.Store), and a request costing more than a limit's capacity
// never passes. Config.Exempt lets chosen requests or keys through
// uncounted, Config.OnLimited sees every refusal, and Config.Headers renames
// or leaves out the X-RateLimit-* headers.
//
// # Keys
//
// Config.Key names the bucket: KeyByPrincipal (client id, else subject),
// KeyByIP (IPv4 whole, IPv6 by /64), KeyByIPPrefix, KeyByHeader, KeyByRoute,
// or any func(*http.Request) (string, bool) the application writes;
// FirstKey and JoinKeys combine them. The default is the principal, falling
// back to the client IP resolved by ipfilter. A request with no key at all
// (no principal and no client IP, as on a Unix socket) is not waved
// through: all such requests share one bucket, "anonymous", under the same
// limits.
//
// An account's own limit comes from Config.LimitFor: LimitFromClaim reads it
// from a numeric claim of the token, or the application looks it up.
//
// # Headers
//
// Every response, allowed or refused, carries:
//
//	X-RateLimit-Limit      the bucket's capacity: the most requests that can
//	                       be made back to back from a full bucket.
//	X-RateLimit-Remaining  whole tokens left after this request: how many
//	                       more requests would succeed right now.
//	X-RateLimit-Reset      on an allowed request, when the bucket will be
//	                       full again (Remaining back to Limit); on a
//	                       refusal, when the next request would be
//	                       admitted (what Retry-After says). A Unix time in
//	                       seconds, rounded up; with Config.ResetSeconds,
//	                       seconds from now.
//
// A token bucket has no fixed window: tokens trickle back one every
// Per/Events, so Remaining can grow before Reset. On an allowed request
// Reset is the conservative answer, the moment the full Limit is available
// again. A refused request also carries Retry-After: the whole seconds,
// rounded up (at least 1), until one token is back; its X-RateLimit-Reset
// and RateLimit t say the same moment, so a client that waits for any of
// them is admitted and none tells it to wait on until the bucket is full.
//
// With several limits, the headers describe the most restrictive one: on a
// refusal the limit that refused with the longest wait, otherwise the one
// with the fewest tokens left.
//
// The header values are shared between responses where they can be (the
// configured capacities, small numbers, Unix seconds), which is what keeps
// an allowed request down to one allocation, its key. Each is a []string
// of length and capacity 1, so Header.Add, Header.Set and append by a later
// handler are safe; writing into one in place (h[name][0] = v) is not, as
// it would change every response that carries the same value.
//
// With Config.IETFHeaders, the structured fields of
// draft-ietf-httpapi-ratelimit-headers-10 are added:
//
//	RateLimit-Policy: "burst";q=10;w=1, "hourly";q=1000;w=3600
//	RateLimit: "burst";r=9;t=1
//
// RateLimit-Policy lists every limit of the key, with q its capacity and w
// the seconds an empty bucket takes to fill (Limit.Window, rounded up);
// RateLimit reports the most restrictive limit with r as Remaining and t as
// the seconds until it is full again or, on a refusal, until the next
// request would be admitted: Retry-After's value (§4.1.2 and §6 of the
// draft). The draft is not final; the X-RateLimit-* headers are what
// clients rely on today.
//
// # Stores
//
// The default MemoryStore keeps each bucket as one number, the time it is
// full again (GCRA), in sharded open-addressed tables that hold no
// pointers (MaxKeys buckets, default 100,000; evictions are counted by
// Evictions): no LRU list, no per-key allocation, nothing for the garbage
// collector to mark, at most 64 bytes a bucket. It decides exactly under
// contention: a shard's time never runs backwards, and a key's decisions
// are made one after another under its shard's lock. Keys are stored as a
// seeded 64-bit hash of the key and limit name, never as strings; two
// pairs whose hashes collide share one bucket, which only ever makes a
// limit stricter for both, never looser (see MemoryStore).
// ratelimit/redisstore shares the same limits between replicas with one
// Redis round trip per decision, by the same algorithm (the two answer
// alike, step by step), and fails open onto a local MemoryStore or closed
// with 503, as configured.
//
// Memory stays bounded at any number of keys, and eviction cannot hand out
// quota: a full bucket is evicted first and leaves no state, and what an
// evicted bucket that was not full had spent survives in a fixed-size
// sketch, so a client pushed out by a flood of minted keys (a header, an
// IPv6 /48) comes back to the bucket it left. What is approximate: the
// sketch errs toward refusing, so while it is crowded (far more spent keys
// evicted than it has cells) a new key may start with less than a full
// bucket; see MemoryStore.
//
// A Store error refuses the request with 503 unavailable and Retry-After
// (the store's, or 1 s).
// A limit is never lifted because something failed, unless a store was
// configured to fail open.
package ratelimit
