package health_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/authtest"
	"github.com/tollgate/tollgate/health"
	"github.com/tollgate/tollgate/internal/redistest"
	"github.com/tollgate/tollgate/jwt"
	"github.com/tollgate/tollgate/revocation/redisrevocation"
)

func pass(context.Context) error { return nil }

func fail(context.Context) error {
	return errors.New("dial tcp 10.0.0.7:6379: connection refused")
}

func hang(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }

func boom(context.Context) error { panic("boom") }

func probe(t *testing.T, h http.Handler, method string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, "/readyz", nil))
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestReadyHandlerNamesTheFailedChecksOnly(t *testing.T) {
	for _, tc := range []struct {
		name   string
		checks []health.Check
		status int
		body   string
	}{
		{"none", nil, 200, `{"status":"ready"}`},
		{"all pass", []health.Check{{"jwks", pass}, {"redis", pass}}, 200, `{"status":"ready"}`},
		{"one fails", []health.Check{{"jwks", pass}, {"redis", fail}}, 503, `{"status":"not ready","failed":["redis"]}`},
		{"two fail, in order", []health.Check{{"redis", fail}, {"jwks", pass}, {"introspection", fail}}, 503, `{"status":"not ready","failed":["redis","introspection"]}`},
		{"a panic fails", []health.Check{{"jwks", boom}}, 503, `{"status":"not ready","failed":["jwks"]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body := probe(t, health.ReadyHandler(tc.checks...), http.MethodGet)
			if res.StatusCode != tc.status {
				t.Errorf("status = %d, want %d", res.StatusCode, tc.status)
			}
			if body != tc.body+"\n" {
				t.Errorf("body = %q, want %q", body, tc.body)
			}
			if strings.Contains(body, "10.0.0.7") || strings.Contains(body, "refused") {
				t.Errorf("body %q tells the cause", body)
			}
			if got := res.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q", got)
			}
			if got := res.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q", got)
			}
		})
	}
}

func TestReadyHandlerMethods(t *testing.T) {
	h := health.ReadyHandler(health.Check{Name: "redis", Ready: fail})
	res, body := probe(t, h, http.MethodHead)
	if res.StatusCode != 503 || body != "" {
		t.Errorf("HEAD = %d %q, want 503 and no body", res.StatusCode, body)
	}
	res, _ = probe(t, h, http.MethodPost)
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST = %d, Allow %q", res.StatusCode, res.Header.Get("Allow"))
	}
}

func TestReadyHandlerGivesUpOnACheckThatDoesNotReturn(t *testing.T) {
	h := health.ReadyHandler(health.Check{Name: "jwks", Ready: pass}, health.Check{Name: "slow", Ready: hang})
	rec := httptest.NewRecorder()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil).WithContext(ctx))
	if rec.Code != 503 || rec.Body.String() != `{"status":"not ready","failed":["slow"]}`+"\n" {
		t.Errorf("got %d %q", rec.Code, rec.Body.String())
	}
}

func TestReadyHandlerRefusesBadChecks(t *testing.T) {
	for _, checks := range [][]health.Check{
		{{Name: "", Ready: pass}},
		{{Name: "jwks"}},
		{{Name: "a", Ready: pass}, {Name: "a", Ready: pass}},
		{{Name: `a"b`, Ready: pass}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("ReadyHandler(%+v) did not panic", checks)
				}
			}()
			health.ReadyHandler(checks...)
		}()
	}
}

// The probe of a verifier whose issuer is down, and of a Redis revocation
// list, through real servers.
func TestReadyHandlerOverRealDependencies(t *testing.T) {
	iss := authtest.NewIssuer(t)
	iss.SetFailing(http.StatusServiceUnavailable)
	v, err := jwt.NewVerifier(context.Background(), jwt.Config{
		Issuers:        []jwt.Issuer{{Issuer: iss.URL(), JWKSURL: iss.JWKSURL(), Audiences: []string{"api"}, Algorithms: []string{"ES256"}}},
		OnRefreshError: func(string, error) {},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	srv := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { client.Close() })
	store := redisrevocation.New(client, redisrevocation.Config{Prefix: redistest.Prefix(t)})
	if err := store.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := health.ReadyHandler(health.Check{Name: "jwks", Ready: v.Ready}, health.Check{Name: "revocation", Ready: store.Ready})

	res, body := probe(t, h, http.MethodGet)
	if res.StatusCode != 503 || body != `{"status":"not ready","failed":["jwks"]}`+"\n" {
		t.Errorf("issuer down: %d %q", res.StatusCode, body)
	}
	if strings.Contains(body, iss.URL()) {
		t.Errorf("body %q names the issuer", body)
	}
	iss.SetFailing(0)
	srv.Kill()
	res, body = probe(t, h, http.MethodGet)
	if res.StatusCode != 503 || body != `{"status":"not ready","failed":["revocation"]}`+"\n" {
		t.Errorf("redis down: %d %q", res.StatusCode, body)
	}
	srv.StartAgain()
	if err := store.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	res, body = probe(t, h, http.MethodGet)
	if res.StatusCode != 200 {
		t.Errorf("all up: %d %q", res.StatusCode, body)
	}
}
