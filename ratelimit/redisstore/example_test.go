package redisstore_test

import (
	"log/slog"
	"net/http"
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
			Client:  rdb,
			Timeout: 50 * time.Millisecond,
			Logger:  slog.Default(),
		}),
	})
	api := http.NewServeMux()
	http.ListenAndServe(":8080", errors.Use(errors.Problem)(limit(api)))
}
