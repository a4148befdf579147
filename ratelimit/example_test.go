package ratelimit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/ratelimit"
)

// Two limits on every caller: a burst of 2 per second and 1,000 an hour.
// The headers describe the most restrictive; the third request in the same
// instant is refused with 429 and Retry-After in the chosen error format.
func Example() {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	limit := ratelimit.New(ratelimit.Config{
		Limits: []ratelimit.Limit{
			{Name: "burst", Events: 2, Per: time.Second},
			{Name: "hourly", Events: 1000, Per: time.Hour},
		},
		ResetSeconds: true,
		IETFHeaders:  true,
		Now:          func() time.Time { return now },
	})
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "orders")
	})
	handler := errors.Use(errors.Message)(limit(api))

	for range 3 {
		r := httptest.NewRequest(http.MethodGet, "/orders", nil)
		r.RemoteAddr = "192.0.2.1:40000"
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		h := w.Header()
		fmt.Printf("%d limit=%s remaining=%s reset=%s retry-after=%q ratelimit=%s %s\n",
			w.Code, h.Get("X-RateLimit-Limit"), h.Get("X-RateLimit-Remaining"),
			h.Get("X-RateLimit-Reset"), h.Get("Retry-After"), h.Get("RateLimit"),
			strings.TrimSpace(w.Body.String()))
	}
	// Output:
	// 200 limit=2 remaining=1 reset=1 retry-after="" ratelimit="burst";r=1;t=1 orders
	// 200 limit=2 remaining=0 reset=1 retry-after="" ratelimit="burst";r=0;t=1 orders
	// 429 limit=2 remaining=0 reset=1 retry-after="1" ratelimit="burst";r=0;t=1 {"message":"Too Many Requests"}
}
