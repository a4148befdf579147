package errors_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	tgerrors "github.com/tollgate/tollgate/errors"
)

// bodyOnly is a user's format that writes a status and a body and no header.
var bodyOnly = tgerrors.FormatFunc(func(w http.ResponseWriter, r *http.Request, e *tgerrors.Error) {
	w.WriteHeader(e.HTTPStatus())
	fmt.Fprint(w, `{"ok":false}`)
})

// writeThrough writes e the way every layer does: errors.Write below
// errors.Use(f).
func writeThrough(f tgerrors.Format, e *tgerrors.Error) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	tgerrors.Use(f)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tgerrors.Write(w, r, e)
	})).ServeHTTP(rec, httptest.NewRequest("GET", "/orders/1", nil))
	return rec
}

// needsChallenge reports whether RFC 6750 §3 asks for a challenge on e: no
// usable token (401, invalid_request) or not enough scope.
func needsChallenge(e *tgerrors.Error) bool {
	return e.HTTPStatus() == http.StatusUnauthorized || e.Kind == tgerrors.InvalidRequest || e.Kind == tgerrors.InsufficientScope
}

// RFC 6750 §3: the Bearer scheme MUST be followed by one or more
// auth-params. Every challenge starts with the realm: the default one unless
// the format names its own.
func TestEveryChallengeCarriesARealm(t *testing.T) {
	for _, f := range []struct {
		name  string
		f     tgerrors.Format
		realm string
	}{
		{"oauth", tgerrors.OAuth, tgerrors.DefaultRealm},
		{"problem", tgerrors.Problem, tgerrors.DefaultRealm},
		{"message", tgerrors.Message, tgerrors.DefaultRealm},
		{"envelope", tgerrors.Envelope, tgerrors.DefaultRealm},
		{"a FormatFunc", bodyOnly, tgerrors.DefaultRealm},
		{"oauth with a realm", tgerrors.OAuthFormat{Realm: "shop"}, "shop"},
		{"envelope with a realm", tgerrors.EnvelopeFormat{Realm: "shop"}, "shop"},
	} {
		for _, e := range kinds {
			t.Run(f.name+"_"+string(e.Kind), func(t *testing.T) {
				got := writeThrough(f.f, e).Header().Get("WWW-Authenticate")
				if !needsChallenge(e) {
					if got != "" {
						t.Errorf("a %s refusal carries a challenge: %q", e.Kind, got)
					}
					return
				}
				want := `Bearer realm="` + f.realm + `"`
				if got != want && !strings.HasPrefix(got, want+", ") {
					t.Errorf("WWW-Authenticate %q, want it to start with %s", got, want)
				}
			})
		}
	}
}

func TestTheDefaultRealmIsAPI(t *testing.T) {
	if tgerrors.DefaultRealm != "api" {
		t.Errorf("DefaultRealm %q; the package doc and README say api", tgerrors.DefaultRealm)
	}
	if got := tgerrors.Challenge("", &tgerrors.Error{Kind: tgerrors.MissingToken}); got != `Bearer realm="api"` {
		t.Errorf("Challenge with no realm = %q, want the default realm", got)
	}
}

// WithRealm names the realm of any format, a FormatFunc's included, and of
// the built-in ones as their Realm field does.
func TestWithRealmSetsTheRealmOfAnyFormat(t *testing.T) {
	for name, f := range map[string]tgerrors.Format{
		"a FormatFunc": tgerrors.WithRealm(bodyOnly, "orders"),
		"oauth":        tgerrors.WithRealm(tgerrors.OAuth, "orders"),
		"envelope":     tgerrors.WithRealm(tgerrors.Envelope, "orders"),
	} {
		for _, e := range []*tgerrors.Error{{Kind: tgerrors.MissingToken}, {Kind: tgerrors.ExpiredToken}, {Kind: tgerrors.InsufficientScope, Scopes: []string{"a"}}} {
			got := writeThrough(f, e).Header().Get("WWW-Authenticate")
			if !strings.HasPrefix(got, `Bearer realm="orders"`) {
				t.Errorf("%s, %s: WWW-Authenticate %q, want realm orders", name, e.Kind, got)
			}
		}
	}
	if f := tgerrors.WithRealm(tgerrors.OAuth, "orders"); f != (tgerrors.OAuthFormat{Realm: "orders"}) {
		t.Errorf("WithRealm(OAuth, orders) = %#v, want OAuthFormat{Realm: orders}", f)
	}
}

// RFC 6750 §3: a request without a usable token (two credentials, an empty
// Bearer) is told why, with the invalid_request code, in every format.
func TestInvalidRequestCarriesTheChallengeWithItsCode(t *testing.T) {
	want := `Bearer realm="api", error="invalid_request", error_description="The request carries more than one credential"`
	for _, f := range []struct {
		name string
		f    tgerrors.Format
	}{{"oauth", tgerrors.OAuth}, {"problem", tgerrors.Problem}, {"message", tgerrors.Message}, {"envelope", tgerrors.Envelope}, {"a FormatFunc", bodyOnly}} {
		rec := writeThrough(f.f, tgerrors.New(tgerrors.InvalidRequest, "The request carries more than one credential"))
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", f.name, rec.Code)
		}
		if got := rec.Header().Get("WWW-Authenticate"); got != want {
			t.Errorf("%s: WWW-Authenticate %q, want %q", f.name, got, want)
		}
	}
}

// A format writes the body; the headers a refusal needs leave whatever the
// format is: no-store, Retry-After and the challenge.
func TestAFormatFuncKeepsTheStandardHeaders(t *testing.T) {
	for _, e := range kinds {
		t.Run(string(e.Kind), func(t *testing.T) {
			rec := writeThrough(bodyOnly, e)
			if rec.Code != e.HTTPStatus() || rec.Body.String() != `{"ok":false}` {
				t.Fatalf("got %d %q", rec.Code, rec.Body)
			}
			h := rec.Header()
			if got := h.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
			if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
			wantRetry := ""
			if e.RetryAfter > 0 {
				wantRetry = fmt.Sprint(tgerrors.RetryAfterSeconds(e.RetryAfter))
			}
			if got := h.Get("Retry-After"); got != wantRetry {
				t.Errorf("Retry-After %q, want %q", got, wantRetry)
			}
			if got, want := h.Get("WWW-Authenticate"), tgerrors.Challenge("", e); needsChallenge(e) && got != want {
				t.Errorf("WWW-Authenticate %q, want %q", got, want)
			}
		})
	}
}
