package redisstore_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/ratelimit"
	"github.com/tollgate/tollgate/ratelimit/redisstore"
)

// Every replica shares one budget per caller. While Redis is away, each
// replica enforces the same limits on its own and logs the switch.
func Example() {
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 []string{"redis-0:6379", "redis-1:6379", "redis-2:6379"},
		ContextTimeoutEnabled: true, // so Config.Timeout bounds each decision
	})
	limit := ratelimit.New(ratelimit.Config{
		Limits: []ratelimit.Limit{
			{Name: "burst", Events: 20, Per: time.Second},
			{Name: "hourly", Events: 10_000, Per: time.Hour},
		},
		Store: redisstore.New(redisstore.Config{
			Client:   rdb,
			Replicas: 3, // while Redis is away, each replica enforces a third
			Logger:   slog.Default(),
		}),
	})
	api := http.NewServeMux()
	http.ListenAndServe(":8080", errors.Use(errors.Problem)(limit(api)))
}

// With Redis unreachable, the default policy keeps the limits on a local
// in-memory store (fail open onto a limiter, never onto no limit), while
// FailClosed refuses with 503 and Retry-After.
func Example_outage() {
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer down.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	limits := []ratelimit.Limit{{Events: 1, Per: time.Minute}}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})

	for _, failClosed := range []bool{false, true} {
		store := redisstore.New(redisstore.Config{Client: down, FailClosed: failClosed, Logger: quiet})
		api := errors.Use(errors.Message)(ratelimit.New(ratelimit.Config{Limits: limits, Store: store})(ok))
		fmt.Print("fail closed: ", failClosed, ":")
		for range 2 {
			rec := httptest.NewRecorder()
			api.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			fmt.Print(" ", rec.Code)
		}
		fmt.Println()
	}
	// Output:
	// fail closed: false: 200 429
	// fail closed: true: 503 503
}
