// Package redisstore shares tollgate's rate limits between replicas through
// Redis: a ratelimit.Store whose token buckets live in Redis, so a client
// that spreads its requests over every replica still gets one budget.
//
//	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
//		Addrs:                 []string{"redis:6379"},
//		ContextTimeoutEnabled: true,
//	})
//	limit := ratelimit.New(ratelimit.Config{
//		Limits: []ratelimit.Limit{{Events: 100, Per: time.Minute}},
//		Store:  redisstore.New(redisstore.Config{Client: rdb}),
//	})
//
// # One round trip, one clock
//
// Each decision is one Lua script (EVALSHA, falling back to EVAL the first
// time a server sees it). It reads the server's clock with TIME, so
// replicas with skewed clocks still agree, and decides all of a key's limits
// atomically, as the in-memory store does: the same token buckets as its
// x/time/rate limiters, computed in Lua, the same carry-over by limit name
// when a key's limits change, the same headers. The keys of one request
// key are hash-tagged ("tollgate:rl:{client:abc}:burst") so that its
// limits land in one slot and the script runs on Redis Cluster.
// A key expires once its bucket would be full again, so Redis holds only
// keys active within their window.
//
// # When Redis is unavailable
//
// A decision that fails or takes longer than Config.Timeout marks Redis
// unavailable. Then, by default, requests are decided by a local in-memory
// limiter (Config.Fallback): limits still hold, per replica. With
// Config.FailClosed they are refused with 503 unavailable and Retry-After
// instead. The switch is logged once, with the cause, through
// Config.Logger. After Config.RetryInterval one request tries Redis again;
// when it answers, the store is back on Redis and says so in the log. No
// request waits on Redis while it is marked unavailable.
//
// For Timeout to bound a decision, build the client with
// ContextTimeoutEnabled: true; otherwise go-redis waits for its own
// ReadTimeout.
package redisstore
