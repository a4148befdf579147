package bench

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	chimw "github.com/go-chi/chi/v5/middleware"
	"github.com/gorilla/mux"

	tgerrors "github.com/tollgate/tollgate/errors"
	"github.com/tollgate/tollgate/ipfilter"
	"github.com/tollgate/tollgate/ratelimit"
)

// twoPerMinute counts every order id against one bucket of the route.
func twoPerMinute(key ratelimit.KeyFunc) func(http.Handler) http.Handler {
	return ratelimit.New(ratelimit.Config{Limits: []ratelimit.Limit{{Name: "route", Events: 2, Per: time.Minute}}, Key: key})
}

func ok(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }

// statuses sends GETs of paths through h and returns their statuses.
func statuses(h http.Handler, paths ...string) []int {
	var out []int
	for _, p := range paths {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		out = append(out, rec.Code)
	}
	return out
}

func TestKeyByRoutePatternSharesOneBucketPerRouteInChiAndGorilla(t *testing.T) {
	chiRouter := chi.NewRouter()
	chiRouter.With(twoPerMinute(ratelimit.KeyByRoutePattern(func(r *http.Request) string {
		return chi.RouteContext(r.Context()).RoutePattern()
	}))).Get("/orders/{id}", ok)

	gorilla := mux.NewRouter()
	gorilla.HandleFunc("/orders/{id}", ok).Methods("GET")
	gorilla.Use(twoPerMinute(ratelimit.KeyByRoutePattern(func(r *http.Request) string {
		t, _ := mux.CurrentRoute(r).GetPathTemplate()
		return t
	})))

	for name, router := range map[string]http.Handler{"chi": chiRouter, "gorilla": gorilla} {
		t.Run(name, func(t *testing.T) {
			h := tgerrors.Use(tgerrors.OAuth)(router)
			got := fmt.Sprint(statuses(h, "/orders/1", "/orders/2", "/orders/3"))
			if got != "[200 200 429]" {
				t.Fatalf("statuses %s: three ids of one route must share its bucket of two", got)
			}
		})
	}
}

// chi's RealIP copies X-Forwarded-For into RemoteAddr. In front of tollgate it
// must not let a spoofed header pass a deny list nor buy a fresh per-IP bucket.
func TestChiRealIPInFrontCannotSpoofTheClientIP(t *testing.T) {
	inner := ipfilter.New(ipfilter.Config{Deny: []string{"203.0.113.0/24"}})(
		ratelimit.New(ratelimit.Config{Limits: []ratelimit.Limit{{Name: "ip", Events: 2, Per: time.Minute}}, Key: ratelimit.KeyByIP})(http.HandlerFunc(ok)))
	//lint:ignore SA1019 the test shows tollgate holding against this very middleware
	h := tgerrors.Use(tgerrors.OAuth)(chimw.RealIP(inner))

	send := func(xff string) int {
		r := httptest.NewRequest("GET", "/orders", nil)
		r.RemoteAddr = "203.0.113.5:40000" // a denied client
		r.Header.Set("X-Forwarded-For", xff)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Code
	}
	if got := send("192.0.2.1"); got != http.StatusForbidden {
		t.Fatalf("a denied client with a spoofed X-Forwarded-For behind chi's RealIP got %d, want 403", got)
	}

	// Without a deny list, spoofed addresses share one bucket instead of
	// getting one each.
	//lint:ignore SA1019 as above
	limitOnly := tgerrors.Use(tgerrors.OAuth)(chimw.RealIP(ratelimit.New(ratelimit.Config{
		Limits: []ratelimit.Limit{{Name: "ip", Events: 2, Per: time.Minute}}, Key: ratelimit.KeyByIP})(http.HandlerFunc(ok))))
	var got []int
	for i := range 4 {
		r := httptest.NewRequest("GET", "/orders", nil)
		r.RemoteAddr = "203.0.113.5:40000"
		r.Header.Set("X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i+1))
		rec := httptest.NewRecorder()
		limitOnly.ServeHTTP(rec, r)
		got = append(got, rec.Code)
	}
	if fmt.Sprint(got) != "[200 200 429 429]" {
		t.Fatalf("statuses %v: spoofed addresses must not get a bucket each", got)
	}
}
