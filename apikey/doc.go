// Package apikey issues, stores, manages and verifies API keys: the
// merchant tokens a provider's portal hands out, each shown once, with
// named permissions, an optional expiry, a status the merchant can flip
// and, if wanted, a rate limit and a number of uses of its own.
//
//	keys, err := apikey.New(apikey.Config{
//		Store:    pgstore.New(pool),                       // or apikey.NewMemoryStore()
//		Peppers:  peppers,                                 // apikey.ParsePeppers(os.Getenv("APIKEY_PEPPERS"))
//		Prefixes: []apikey.Prefix{{Name: "mt_live", Type: "merchant"}, {Name: "mt_test", Type: "merchant"}},
//	})
//	key, secret, err := keys.Create(ctx, apikey.Spec{
//		Name:        "orders integration",
//		Owner:       apikey.Owner{ID: "mer_1", OrgID: "org_1", AppID: "app_1"},
//		Permissions: []string{"can_read_order"},
//	})
//	// secret.Reveal() goes to the merchant once; the store has its HMAC.
//	auth := middleware.Authenticate(middleware.JWTOrOpaque(customers, keys))
//
// # Format
//
// A token is <prefix>_<32 random base62 characters><6-character CRC-32>,
// GitHub's format: mt_live_2Bq8k1xZ0pLw9cY4rT7uV3nH6mJ5sD0a1kZp9Q. The
// random part carries 190 bits from crypto/rand. The checksum lets secret
// scanners and typo checks recognise a token offline (WellFormed), and
// lets Verify refuse a mistyped or made-up token before it asks the store;
// one of a prefix not configured is refused before it is even hashed.
//
// # At rest
//
// Stores keep a Digest, HMAC-SHA-256 of the token under a server-side
// Pepper that lives in configuration, and a Hint for display
// ("mt_live_…a1b2"). The plaintext is returned once, as a Secret, by
// Create and Rotate; a Secret prints, logs and marshals as "[REDACTED]".
// Several peppers may be configured, newest first: new tokens are hashed
// with the newest, tokens of older ones keep working and are rehashed
// with the newest the first time they are verified, so an old pepper can
// be retired once the store shows no hash using it.
//
// # Verification
//
// Keys implements middleware.Verifier. A principal made from a key has
// Type the prefix's Type, Subject the Owner.ID, ClientID and TokenID the
// key's ID (so ratelimit.KeyByPrincipal gives each key its own bucket),
// Scopes the key's Permissions, ExpiresAt its expiry, and as claims "sub",
// "key_id", "key_name", "org_id" and "app_id" (for
// middleware.RequireTenant) and each Metadata entry. An expired key is
// refused with expired_token; an inactive, revoked or unknown one with
// invalid_token; a store that cannot answer with unavailable (503), never
// an admission.
//
// Answers are cached in memory, keyed by the token's digest (never the
// token): a bounded, sharded LRU (CacheSize, default 10,000) whose hit
// costs one HMAC and a map lookup, under 300 ns, and no allocation (the
// checksum is needed only on a miss: a hit's digest is an issued token's). An unknown token is remembered for
// NegativeTTL (5 s). A cached key is read again after CacheTTL (30 s).
// Concurrent misses for one token make one store query.
//
// # Changes across replicas
//
// A change made through Keys (Update, Deactivate, Reactivate, Revoke,
// Rotate) drops the key from this replica's cache at once, and the store
// tells every other replica: a Store that is also a Watcher (MemoryStore
// within a process, pgstore through PostgreSQL LISTEN/NOTIFY) announces
// each change when it commits, typically within milliseconds, and a
// lookup that raced with a change is never cached over it. If the change
// feed is lost, CacheTTL bounds how long a replica can serve a stale
// answer, and the feed's reconnection drops the whole cache.
//
// # Usage bookkeeping
//
// LastUsedAt is written off the request path, batched once a second, at
// most once per key per LastUsedInterval (1 min) across every replica.
// A key with RemainingUses is the one exception to in-memory
// verification: each use is taken in the store (one round trip), so the
// count is exact across replicas. A key's RateLimit reaches the rate
// limiter through LimitFor:
//
//	ratelimit.New(ratelimit.Config{Limits: defaults, LimitFor: keys.LimitFor})
//
// # Management over HTTP
//
// Handler serves the management API as JSON for a portal (create, list,
// get, update, deactivate, reactivate, rotate, revoke), for the owner
// named by the caller's own principal: put it behind
// middleware.Authenticate with the portal's credentials, and a merchant
// sees and changes only its own keys.
package apikey
