// Package demo holds the plumbing the runnable examples share and that is
// not what they illustrate: checking the demo users' passwords without
// telling which usernames exist (Passwords), one interface over the memory
// and the Redis lists of ended sessions (SessionRevocations), opening the
// PostgreSQL database of -postgres (OpenPostgres), and serving until
// interrupted (ListenAndServe). What shows how to use tollgate (the
// guards, the issuer's configuration, which stores back it) stays in each
// example's main.go.
package demo
