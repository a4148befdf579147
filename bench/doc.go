// Package bench measures tollgate's hot paths beside the libraries an API
// provider would otherwise reach for: auth0/go-jwt-middleware,
// golang-jwt/jwt with MicahParks/keyfunc, lestrrat-go/jwx, ulule/limiter,
// go-chi/httprate, sethvargo/go-limiter and go-redis/redis_rate.
//
// It is its own module so that users of tollgate never download the peers.
// Everything it contains is in _test.go files; run it with
//
//	go test -run '^$' -bench . -benchmem
//
// and see README.md for what each benchmark compares and the figures measured.
// The tests here (go test) assert what is deterministic: the peers accept the
// token the benchmarks use, and the whole chain's allocation budget.
package bench
