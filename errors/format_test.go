package errors_test

import (
	"bytes"
	"encoding/json"
	stderrors "errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tgerrors "github.com/tollgate/tollgate/errors"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

var formats = []struct {
	name string
	f    tgerrors.Format
}{
	{"oauth", tgerrors.OAuthFormat{Realm: "api"}},
	{"problem", tgerrors.Problem},
	{"message", tgerrors.Message},
	{"envelope", tgerrors.Envelope},
}

var kinds = []*tgerrors.Error{
	{Kind: tgerrors.MissingToken},
	{Kind: tgerrors.InvalidRequest},
	{Kind: tgerrors.InvalidToken},
	{Kind: tgerrors.ExpiredToken},
	{Kind: tgerrors.InsufficientScope, Scopes: []string{"can_read_order", "can_write_order"}},
	{Kind: tgerrors.WrongTokenType},
	{Kind: tgerrors.Forbidden},
	{Kind: tgerrors.IPDenied},
	{Kind: tgerrors.RateLimited, RetryAfter: 1500 * time.Millisecond},
	{Kind: tgerrors.Unavailable, RetryAfter: 30 * time.Second},
	{Kind: tgerrors.Validation, Message: "The X-Organization-Id header is required"},
	{Kind: tgerrors.Syntax},
	{Kind: tgerrors.ResourceNotFound},
	{Kind: tgerrors.WrongMethod},
	{Kind: tgerrors.Conflict},
	{Kind: tgerrors.PayloadTooLarge},
	{Kind: tgerrors.UnsupportedMediaType},
	{Kind: tgerrors.Unprocessable},
	{Kind: tgerrors.Internal, Err: stderrors.New("db: connection reset by 10.1.2.3")},
}

// render writes e through f and returns what a client sees: status line,
// the headers tollgate sets, and the body.
func render(f tgerrors.Format, e *tgerrors.Error) string {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/orders/1", nil)
	tgerrors.Use(f)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tgerrors.Write(w, r, e)
	})).ServeHTTP(rec, req)
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n", rec.Code)
	for _, h := range []string{"Content-Type", "Cache-Control", "X-Content-Type-Options", "WWW-Authenticate", "Retry-After"} {
		if v := rec.Header().Get(h); v != "" {
			fmt.Fprintf(&b, "%s: %s\n", h, v)
		}
	}
	b.WriteString("\n")
	b.WriteString(rec.Body.String())
	return b.String()
}

// TestGolden pins every format's rendering of every kind: status, headers and
// body, byte for byte. Run with -update after an intended change and read
// the diff.
func TestGolden(t *testing.T) {
	for _, f := range formats {
		for _, e := range kinds {
			name := f.name + "_" + string(e.Kind)
			t.Run(name, func(t *testing.T) {
				got := render(f.f, e)
				path := filepath.Join("testdata", name+".golden")
				if *update {
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("missing golden file (run go test -update): %v", err)
				}
				if got != string(want) {
					t.Errorf("%s differs from its golden file\n got:\n%s\nwant:\n%s", name, got, want)
				}
			})
		}
	}
}

func TestEveryFormatAndKind(t *testing.T) {
	for _, f := range formats {
		for _, e := range kinds {
			t.Run(f.name+"_"+string(e.Kind), func(t *testing.T) {
				rec := httptest.NewRecorder()
				f.f.WriteError(rec, httptest.NewRequest("GET", "/", nil), e)
				if rec.Code != e.Kind.Status() {
					t.Errorf("status %d, want %d", rec.Code, e.Kind.Status())
				}
				if !json.Valid(rec.Body.Bytes()) {
					t.Errorf("body is not JSON: %q", rec.Body)
				}
				if got := rec.Header().Get("Cache-Control"); got != "no-store" {
					t.Errorf("Cache-Control %q, want no-store", got)
				}
				challenge := rec.Header().Get("WWW-Authenticate")
				if rec.Code == http.StatusUnauthorized && !strings.HasPrefix(challenge, "Bearer") {
					t.Errorf("401 without a Bearer challenge: %q", challenge)
				}
				if e.Kind == tgerrors.MissingToken && strings.Contains(challenge, "error=") {
					t.Errorf("missing_token challenge carries an error code (RFC 6750 §3.1): %q", challenge)
				}
				if e.RetryAfter > 0 && rec.Header().Get("Retry-After") == "" {
					t.Error("no Retry-After header")
				}
			})
		}
	}
}

func TestEnvelopeNamesAndCodes(t *testing.T) {
	tests := []struct {
		kind       tgerrors.Kind
		name, code string
	}{
		{tgerrors.MissingToken, "UnauthorizedError", "UNAUTHORIZED"},
		{tgerrors.InvalidToken, "UnauthorizedError", "UNAUTHORIZED"},
		{tgerrors.IPDenied, "ForbiddenError", "FORBIDDEN"},
		{tgerrors.InsufficientScope, "ForbiddenError", "FORBIDDEN"},
		{tgerrors.Validation, "ValidationException", "VALIDATION_FAILURE"},
		{tgerrors.Syntax, "SyntaxError", "SYNTAX_ERROR"},
		{tgerrors.RateLimited, "TooManyRequestsError", "TOO_MANY_REQUESTS"},
		{tgerrors.Unavailable, "ServiceUnavailableError", "SERVICE_UNAVAILABLE"},
		{tgerrors.InvalidRequest, "BadRequestError", "BAD_REQUEST"},
		{tgerrors.ResourceNotFound, "NotFoundError", "NOT_FOUND"},
		{tgerrors.WrongMethod, "MethodNotAllowedError", "METHOD_NOT_ALLOWED"},
		{tgerrors.Conflict, "ConflictError", "CONFLICT"},
		{tgerrors.PayloadTooLarge, "PayloadTooLargeError", "PAYLOAD_TOO_LARGE"},
		{tgerrors.UnsupportedMediaType, "UnsupportedMediaTypeError", "UNSUPPORTED_MEDIA_TYPE"},
		{tgerrors.Unprocessable, "UnprocessableEntityError", "UNPROCESSABLE_ENTITY"},
		{tgerrors.Internal, "InternalServerError", "INTERNAL_SERVER_ERROR"},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			rec := httptest.NewRecorder()
			tgerrors.Envelope.WriteError(rec, httptest.NewRequest("GET", "/", nil), &tgerrors.Error{Kind: tt.kind, Message: "m"})
			var body struct {
				Error struct{ Name, Code, Message string }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if body.Error.Name != tt.name || body.Error.Code != tt.code || body.Error.Message != "m" {
				t.Errorf("got %+v, want name %s code %s message m", body.Error, tt.name, tt.code)
			}
		})
	}
}

func TestMessageFormatSaysOnlyTheStatus(t *testing.T) {
	for status, kind := range map[string]tgerrors.Kind{
		"Unauthorized":      tgerrors.InvalidToken,
		"Forbidden":         tgerrors.IPDenied,
		"Too Many Requests": tgerrors.RateLimited,
	} {
		rec := httptest.NewRecorder()
		tgerrors.Message.WriteError(rec, httptest.NewRequest("GET", "/", nil), &tgerrors.Error{Kind: kind, Message: "secret detail"})
		want := `{"message":"` + status + `"}` + "\n"
		if rec.Body.String() != want {
			t.Errorf("%s: body %q, want %q", kind, rec.Body, want)
		}
	}
}

func TestInternalCauseIsNeverWritten(t *testing.T) {
	cause := stderrors.New("dial tcp 10.1.2.3:443: connection refused; key=MIIB")
	for _, f := range formats {
		for err, want := range map[error]int{
			tgerrors.Wrap(tgerrors.Unavailable, "", cause): http.StatusServiceUnavailable,
			fmt.Errorf("wrapped: %w", cause):               http.StatusServiceUnavailable, // not an *Error: written as unavailable
			tgerrors.Wrap(tgerrors.Internal, "", cause):    http.StatusInternalServerError,
		} {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", "/", nil)
			req = req.WithContext(tgerrors.WithFormat(req.Context(), f.f))
			tgerrors.Write(rec, req, err)
			dump := rec.Body.String() + fmt.Sprint(rec.Header())
			if strings.Contains(dump, "10.1.2.3") || strings.Contains(dump, "MIIB") || strings.Contains(dump, "dial") {
				t.Errorf("%s leaks the internal cause: %s", f.name, dump)
			}
			if rec.Code != want {
				t.Errorf("%s: status %d, want %d", f.name, rec.Code, want)
			}
		}
	}
}

func TestChallengeCannotBeBrokenByValues(t *testing.T) {
	e := &tgerrors.Error{
		Kind:    tgerrors.InsufficientScope,
		Message: "bad \"quote\" and \\ backslash\r\nX-Injected: 1",
		Scopes:  []string{`a"b`, "c d", "ok"},
	}
	got := tgerrors.Challenge(`r"e\alm`, e)
	want := `Bearer realm="r\"e\\alm", error="insufficient_scope", error_description="bad quote and  backslashX-Injected: 1", scope="ab cd ok"`
	if got != want {
		t.Errorf("challenge\n got %s\nwant %s", got, want)
	}
}

func TestWriteWithoutUseFallsBackToOAuth(t *testing.T) {
	rec := httptest.NewRecorder()
	tgerrors.Write(rec, httptest.NewRequest("GET", "/", nil), tgerrors.New(tgerrors.InvalidToken, ""))
	if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer realm="api", error="invalid_token", error_description="The access token is invalid"` {
		t.Errorf("challenge %q", got)
	}
	if !bytes.Contains(rec.Body.Bytes(), []byte(`"error":"invalid_token"`)) {
		t.Errorf("body %s", rec.Body)
	}
}

func TestAUserFormatIsOneFunction(t *testing.T) {
	custom := tgerrors.FormatFunc(func(w http.ResponseWriter, r *http.Request, e *tgerrors.Error) {
		w.WriteHeader(e.HTTPStatus())
		fmt.Fprintf(w, "denied:%s", e.Kind)
	})
	rec := httptest.NewRecorder()
	tgerrors.Use(custom)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tgerrors.Write(w, r, tgerrors.New(tgerrors.IPDenied, ""))
	})).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 403 || rec.Body.String() != "denied:ip_denied" {
		t.Errorf("got %d %q", rec.Code, rec.Body)
	}
}

func TestKindsMatchWithErrorsIs(t *testing.T) {
	err := fmt.Errorf("verify: %w", tgerrors.Wrap(tgerrors.ExpiredToken, "", stderrors.New("exp")))
	if !stderrors.Is(err, &tgerrors.Error{Kind: tgerrors.ExpiredToken}) {
		t.Error("errors.Is does not match by kind")
	}
	if stderrors.Is(err, &tgerrors.Error{Kind: tgerrors.InvalidToken}) {
		t.Error("errors.Is matches another kind")
	}
	if got := tgerrors.KindOf(err); got != tgerrors.ExpiredToken {
		t.Errorf("KindOf = %q", got)
	}
}

func TestRetryAfterRoundsUp(t *testing.T) {
	for d, want := range map[time.Duration]int64{time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, 59500 * time.Millisecond: 60} {
		if got := tgerrors.RetryAfterSeconds(d); got != want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

func TestAUserFormatStillSendsTheChallengeOnEvery401(t *testing.T) {
	bodyOnly := tgerrors.FormatFunc(func(w http.ResponseWriter, r *http.Request, e *tgerrors.Error) {
		w.WriteHeader(e.HTTPStatus())
		fmt.Fprint(w, `{"ok":false}`)
	})
	for kind, want := range map[tgerrors.Kind]string{
		tgerrors.MissingToken: `Bearer realm="api"`,
		tgerrors.InvalidToken: `Bearer realm="api", error="invalid_token", error_description="The access token is invalid"`,
		tgerrors.IPDenied:     "",
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/", nil)
		req = req.WithContext(tgerrors.WithFormat(req.Context(), bodyOnly))
		tgerrors.Write(rec, req, tgerrors.New(kind, ""))
		if got := rec.Header().Get("WWW-Authenticate"); got != want {
			t.Errorf("%s: WWW-Authenticate %q, want %q", kind, got, want)
		}
	}
}

// Each new kind has its status; a status no kind names still gets a name in
// the envelope and the message formats, never an empty or generic one.
func TestEveryStatusIsNamed(t *testing.T) {
	statuses := map[tgerrors.Kind]int{
		tgerrors.ResourceNotFound: 404, tgerrors.WrongMethod: 405, tgerrors.Conflict: 409, tgerrors.PayloadTooLarge: 413,
		tgerrors.UnsupportedMediaType: 415, tgerrors.Unprocessable: 422, tgerrors.Internal: 500,
	}
	for kind, want := range statuses {
		if got := kind.Status(); got != want {
			t.Errorf("%s.Status() = %d, want %d", kind, got, want)
		}
	}
	tests := []struct {
		status                 int
		name, code, statusText string
	}{
		{404, "NotFoundError", "NOT_FOUND", "Not Found"},
		{405, "MethodNotAllowedError", "METHOD_NOT_ALLOWED", "Method Not Allowed"},
		{409, "ConflictError", "CONFLICT", "Conflict"},
		{410, "GoneError", "GONE", "Gone"},
		{413, "PayloadTooLargeError", "PAYLOAD_TOO_LARGE", "Payload Too Large"},
		{415, "UnsupportedMediaTypeError", "UNSUPPORTED_MEDIA_TYPE", "Unsupported Media Type"},
		{418, "ImATeapotError", "IM_A_TEAPOT", "I'm a teapot"},
		{422, "UnprocessableEntityError", "UNPROCESSABLE_ENTITY", "Unprocessable Entity"},
		{500, "InternalServerError", "INTERNAL_SERVER_ERROR", "Internal Server Error"},
		{502, "BadGatewayError", "BAD_GATEWAY", "Bad Gateway"},
		{499, "ClientError", "CLIENT_ERROR", "Client Error"},
		{599, "ServerError", "SERVER_ERROR", "Server Error"},
	}
	for _, tt := range tests {
		e := &tgerrors.Error{Kind: "app_specific", Status: tt.status}
		rec := httptest.NewRecorder()
		tgerrors.Envelope.WriteError(rec, httptest.NewRequest("GET", "/", nil), e)
		var env struct {
			Error struct{ Name, Code, Message string }
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
			t.Fatal(err)
		}
		if rec.Code != tt.status || env.Error.Name != tt.name || env.Error.Code != tt.code || env.Error.Message == "" {
			t.Errorf("%d: envelope %d %+v, want %s/%s and a message", tt.status, rec.Code, env.Error, tt.name, tt.code)
		}
		rec = httptest.NewRecorder()
		tgerrors.Message.WriteError(rec, httptest.NewRequest("GET", "/", nil), e)
		if want := `{"message":"` + tt.statusText + `"}` + "\n"; rec.Body.String() != want {
			t.Errorf("%d: message body %q, want %q", tt.status, rec.Body, want)
		}
	}
}
