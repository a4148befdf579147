package health_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"

	"github.com/tollgate/tollgate/health"
)

func ExampleReadyHandler() {
	// In a server: health.Check{Name: "jwks", Ready: verifier.Ready}, and
	// so on for each dependency.
	keysLoaded := func(context.Context) error { return nil }
	redisDown := func(context.Context) error { return errors.New("dial tcp 10.0.0.7:6379: connection refused") }
	h := health.ReadyHandler(
		health.Check{Name: "jwks", Ready: keysLoaded},
		health.Check{Name: "ratelimit", Ready: redisDown},
	)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output: 503 {"status":"not ready","failed":["ratelimit"]}
}
