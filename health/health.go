// Package health answers readiness probes from the Ready methods of
// tollgate's remote dependencies: jwt.Verifier (key sets loaded and not
// stale), introspect.Client (the endpoint answers), redisrevocation.Store
// (Redis answers and holds the list's epoch) and redisstore.Store (Redis
// answers).
//
// ReadyHandler runs every check at once, under the request's context and at
// most Timeout (2 seconds), and answers 200 when all pass, 503 when one
// fails, with a JSON body that names the failed checks by the names given
// here and nothing else: the checks' errors, which may name hosts,
// issuers and causes, are logged through slog at Warn, never written to the
// response, so the endpoint can be reached by a load balancer without
// telling it anything internal.
//
// It lives outside middleware because it guards nothing: mount it on its
// own path, outside the authentication chain.
package health

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Timeout bounds a probe's checks, whatever the request's own deadline.
const Timeout = 2 * time.Second

// Check is one readiness check: a name for the probe's body and logs, and
// a function that returns nil when the dependency is ready, such as
// (*jwt.Verifier).Ready.
type Check struct {
	Name  string
	Ready func(context.Context) error
}

// ReadyHandler returns a handler for a readiness probe (GET or HEAD; other
// methods get 405). It answers 200 {"status":"ready"} when every check
// returns nil within Timeout, and otherwise 503
// {"status":"not ready","failed":["name",...]}, in the order the checks were
// given. A check that does not return within Timeout counts as failed; it
// is handed the context that says so and should return. Responses carry
// Cache-Control: no-store. It panics if a check has no name or no function,
// or two share a name.
func ReadyHandler(checks ...Check) http.Handler {
	seen := map[string]bool{}
	for _, c := range checks {
		if c.Name == "" || c.Ready == nil {
			panic("health.ReadyHandler: a Check needs a Name and a Ready function")
		}
		if seen[c.Name] || !plainName(c.Name) {
			panic("health.ReadyHandler: check name " + c.Name + " is repeated or not made of letters, digits, '-', '_' and '.'")
		}
		seen[c.Name] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), Timeout)
		defer cancel()
		errs := make([]error, len(checks))
		var wg sync.WaitGroup
		for i, c := range checks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = run(ctx, c)
			}()
		}
		wg.Wait()
		body := []byte(`{"status":"ready"}`)
		code := http.StatusOK
		failed := 0
		for i, err := range errs {
			if err == nil {
				continue
			}
			slog.Default().WarnContext(r.Context(), "tollgate: not ready", "check", checks[i].Name, "error", err)
			if failed == 0 {
				code = http.StatusServiceUnavailable
				body = append(body[:0], `{"status":"not ready","failed":[`...)
			} else {
				body = append(body, ',')
			}
			failed++
			// Names are plain (checked above), so they need no escaping.
			body = append(body, '"')
			body = append(body, checks[i].Name...)
			body = append(body, '"')
		}
		if failed > 0 {
			body = append(body, "]}"...)
		}
		body = append(body, '\n')
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		if r.Method == http.MethodGet {
			_, _ = w.Write(body)
		}
	})
}

// run calls c, turning a panic into a failure and giving up at ctx's end.
func run(ctx context.Context, c Check) error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- errPanic
			}
		}()
		done <- c.Ready(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

type panicError struct{}

func (panicError) Error() string { return "health: the check panicked" }

var errPanic error = panicError{}

func plainName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
