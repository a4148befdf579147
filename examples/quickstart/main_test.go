package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate/tollgate/authtest"
)

// The program's own start prints tokens and curl commands; each command,
// sent as the HTTP request it stands for, answers the status printed above
// it, with the refusal kind where the line names one.
func TestPrintedCommandsAnswerThePrintedStatus(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out strings.Builder
	q, err := start(ctx, "127.0.0.1:0", &out)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- q.serve(ctx) }()

	cmds, tokens := parseUsage(t, out.String())
	if len(cmds) < 5 {
		t.Fatalf("found %d commands in the output, want at least 5:\n%s", len(cmds), out.String())
	}
	if !strings.Contains(out.String(), "valid for 24 hours") {
		t.Errorf("the output does not say how long the tokens last:\n%s", out.String())
	}
	for name, token := range tokens {
		if got := lifetime(t, token); got != 24*time.Hour {
			t.Errorf("$%s lives %v, printed 24 hours", name, got)
		}
	}
	seen := map[int]bool{}
	for _, c := range cmds {
		t.Run(c.what, func(t *testing.T) {
			req, err := http.NewRequest(c.method, c.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			for name, v := range c.header {
				req.Header.Set(name, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status {
				t.Fatalf("%s\nanswered %d, printed %d; body %s", c.line, resp.StatusCode, c.status, body)
			}
			if challenge := resp.Header.Get("WWW-Authenticate"); c.status == 401 && !strings.HasPrefix(challenge, "Bearer") {
				t.Errorf("401 with WWW-Authenticate %q, want a Bearer challenge", challenge)
			}
			if c.kind != "" {
				var e struct{ Error string }
				if err := json.Unmarshal(body, &e); err != nil || e.Error != c.kind {
					t.Errorf("body %s, want error %q", body, c.kind)
				}
			}
			seen[c.status] = true
		})
	}
	for _, status := range []int{200, 401, 403} {
		if !seen[status] {
			t.Errorf("no printed command answers %d", status)
		}
	}

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("serve after shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after its context was cancelled")
	}
	if _, err := http.Get("http://" + q.listener.Addr().String() + "/orders/1"); err == nil {
		t.Error("the API still answers after shutdown")
	}
}

// printedCommand is one curl command of the output and the status printed
// with it.
type printedCommand struct {
	line, what  string // the command and its comment line
	status      int
	kind        string // the refusal kind named after the status, if any
	method, url string
	header      map[string]string
}

var (
	assignment = regexp.MustCompile(`^([A-Z]+)=(\S+)$`)
	// "# 403 Forbidden, wrong_token_type: what the command does"
	expectation = regexp.MustCompile(`^# (\d{3}) ([A-Za-z ]+)(?:, ([a-z_]+))?: `)
)

// parseUsage reads the printed shell variables and commands, as a shell
// would: each "# <status>" comment line is followed by the curl command it
// describes.
func parseUsage(t *testing.T, out string) (cmds []printedCommand, vars map[string]string) {
	t.Helper()
	vars = map[string]string{}
	var pending *printedCommand
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := assignment.FindStringSubmatch(line); m != nil {
			vars[m[1]] = m[2]
			continue
		}
		if m := expectation.FindStringSubmatch(line); m != nil {
			status, _ := strconv.Atoi(m[1])
			if got := http.StatusText(status); got != m[2] {
				t.Errorf("%q: status text %q, want %q", line, m[2], got)
			}
			pending = &printedCommand{what: strings.TrimPrefix(line, "# "), status: status, kind: m[3], method: http.MethodGet, header: map[string]string{}}
			continue
		}
		if !strings.HasPrefix(line, "curl ") {
			continue
		}
		if pending == nil {
			t.Fatalf("command without a printed status: %s", line)
		}
		c := pending
		pending = nil
		c.line = line
		args := shellWords(t, line, vars)
		for i := 1; i < len(args); i++ {
			switch a := args[i]; {
			case a == "-i":
			case a == "-X" && i+1 < len(args):
				i++
				c.method = args[i]
			case a == "-H" && i+1 < len(args):
				i++
				name, value, ok := strings.Cut(args[i], ": ")
				if !ok {
					t.Fatalf("malformed header %q in %s", args[i], line)
				}
				c.header[name] = value
			case strings.HasPrefix(a, "http://"):
				c.url = a
			default:
				t.Fatalf("argument %q of %s is not understood by this test", a, line)
			}
		}
		if c.url == "" {
			t.Fatalf("no URL in %s", line)
		}
		cmds = append(cmds, *c)
	}
	return cmds, vars
}

// lifetime is exp minus iat of a JWT's claims.
func lifetime(t *testing.T, token string) time.Duration {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("%q is not a JWT", token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct{ Iat, Exp int64 }
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return time.Duration(claims.Exp-claims.Iat) * time.Second
}

// shellWords splits line as a POSIX shell would for the subset the output
// uses: blanks, single quotes, double quotes, and $NAME expanded from vars.
// An unset variable fails the test, since the shell would expand it to "".
func shellWords(t *testing.T, line string, vars map[string]string) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	inWord := false
	quote := byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '\'' && c == '\'', quote == '"' && c == '"':
			quote = 0
		case quote == '\'':
			w.WriteByte(c)
		case quote == 0 && (c == '\'' || c == '"'):
			quote, inWord = c, true
		case quote == 0 && c == ' ':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case c == '$':
			j := i + 1
			for j < len(line) && (line[j] == '_' || line[j] >= 'A' && line[j] <= 'Z') {
				j++
			}
			v, ok := vars[line[i+1:j]]
			if !ok {
				t.Fatalf("$%s in %s is not set by the output", line[i+1:j], line)
			}
			w.WriteString(v)
			inWord = true
			i = j - 1
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		t.Fatalf("unterminated quote in %s", line)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// countingHandlers returns handlers that record which of them ran.
func countingHandlers(reached *[]string) handlers {
	count := func(name string, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			*reached = append(*reached, name)
			h.ServeHTTP(w, r)
		})
	}
	return handlers{
		getOrder:    count("getOrder", shop.getOrder),
		getPayments: count("getPayments", shop.getPayments),
		refundOrder: count("refundOrder", shop.refundOrder),
	}
}

func TestAPI(t *testing.T) {
	iss := authtest.NewIssuer(t)
	other := authtest.NewIssuer(t)
	v, err := newVerifier(t.Context(), iss.URL(), iss.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })

	token := func(sub, typ, scope string) string {
		return iss.Mint(map[string]any{"sub": sub, "aud": audience, "token_type": typ, "scope": scope})
	}
	merchant := token("merchant-7", "merchant", "can_read_order can_read_payment can_refund_order")
	customer := token("customer-42", "customer", "can_read_order")

	const (
		noChallenge    = ""
		missingToken   = `{"error":"missing_token","error_description":"Authentication is required"}`
		invalidToken   = `{"error":"invalid_token","error_description":"The access token is invalid"}`
		expiredToken   = `{"error":"invalid_token","error_description":"The access token expired"}`
		wrongTokenType = `{"error":"wrong_token_type","error_description":"The access token is of a type this resource does not accept"}`
		noScope        = `{"error":"insufficient_scope","error_description":"The access token does not grant the required scope"}`
	)
	scopeChallenge := func(scope string) string {
		return `Bearer realm="api", error="insufficient_scope", error_description="The access token does not grant the required scope", scope="` + scope + `"`
	}

	tests := []struct {
		name, method, path, token string
		status                    int
		challenge, body, reached  string
	}{
		{"a customer reads an order", "GET", "/orders/1001", customer,
			200, noChallenge, "order 1001, read by customer customer-42\n", "getOrder"},
		{"a merchant reads an order", "GET", "/orders/1001", merchant,
			200, noChallenge, "order 1001, read by merchant merchant-7\n", "getOrder"},
		{"a merchant refunds an order", "POST", "/orders/1001/refund", merchant,
			200, noChallenge, "order 1001 refunded by merchant merchant-7\n", "refundOrder"},
		{"no token is refused with 401 and a bare challenge", "GET", "/orders/1001", "",
			401, `Bearer realm="api"`, missingToken, ""},
		{"a token from another issuer is refused with 401 invalid_token", "GET", "/orders/1001",
			other.Mint(map[string]any{"sub": "customer-42", "aud": audience, "token_type": "customer", "scope": "can_read_order"}),
			401, `Bearer realm="api", error="invalid_token", error_description="The access token is invalid"`, invalidToken, ""},
		{"a token for another API is refused with 401 invalid_token", "GET", "/orders/1001",
			iss.Mint(map[string]any{"sub": "customer-42", "aud": "billing-api", "token_type": "customer", "scope": "can_read_order"}),
			401, `Bearer realm="api", error="invalid_token", error_description="The access token is invalid"`, invalidToken, ""},
		{"an expired token is refused with 401 and says so", "GET", "/orders/1001",
			iss.Mint(map[string]any{"sub": "customer-42", "aud": audience, "token_type": "customer", "scope": "can_read_order",
				"iat": time.Now().Add(-2 * time.Hour).Unix(), "exp": time.Now().Add(-time.Hour).Unix()}),
			401, `Bearer realm="api", error="invalid_token", error_description="The access token expired"`, expiredToken, ""},
		{"a customer without can_read_payment is refused with 403 insufficient_scope", "GET", "/orders/1001/payments", customer,
			403, scopeChallenge("can_read_payment"), noScope, ""},
		{"a customer on the merchant-only refund is refused with 403 wrong_token_type", "POST", "/orders/1001/refund", customer,
			403, noChallenge, wrongTokenType, ""},
		{"a merchant without can_refund_order is refused with 403 insufficient_scope", "POST", "/orders/1001/refund",
			token("merchant-8", "merchant", "can_read_order"),
			403, scopeChallenge("can_refund_order"), noScope, ""},
		{"a token of an unknown type is no merchant's", "POST", "/orders/1001/refund",
			token("admin-1", "admin", "can_refund_order"),
			403, noChallenge, wrongTokenType, ""},
		{"a token without a type is no merchant's", "POST", "/orders/1001/refund",
			iss.Mint(map[string]any{"sub": "merchant-7", "aud": audience, "scope": "can_refund_order"}),
			403, noChallenge, wrongTokenType, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reached []string
			api := newAPI(v, countingHandlers(&reached))
			r := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.token != "" {
				r.Header.Set("Authorization", "Bearer "+tt.token)
			}
			w := httptest.NewRecorder()
			api.ServeHTTP(w, r)

			if w.Code != tt.status {
				t.Errorf("status %d, want %d", w.Code, tt.status)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.challenge)
			}
			if got := strings.TrimSuffix(w.Body.String(), "\n"); got != strings.TrimSuffix(tt.body, "\n") {
				t.Errorf("body %q, want %q", got, tt.body)
			}
			if got := strings.Join(reached, ","); got != tt.reached {
				t.Errorf("handlers reached: %q, want %q", got, tt.reached)
			}
			if tt.status != 200 && w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("refusal without Cache-Control: no-store")
			}
		})
	}
}

// With the default address taken, the program says so and serves on a
// free port; any other address that is taken is an error naming -addr.
func TestBusyAddress(t *testing.T) {
	t.Run("a busy address given with -addr is an error", func(t *testing.T) {
		taken, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer taken.Close()
		var out strings.Builder
		ln, err := listen(taken.Addr().String(), &out)
		if err == nil {
			ln.Close()
			t.Fatal("listening on a taken address succeeded")
		}
		if !strings.Contains(err.Error(), taken.Addr().String()) || !strings.Contains(err.Error(), "-addr") {
			t.Errorf("error %q should name the address and -addr", err)
		}
	})
	t.Run("a busy default address falls back to a free port and says so", func(t *testing.T) {
		taken, err := net.Listen("tcp", defaultAddr)
		switch {
		case err == nil:
			defer taken.Close()
		case !errors.Is(err, syscall.EADDRINUSE):
			t.Fatalf("cannot take %s to test the fallback: %v", defaultAddr, err)
		}
		var out strings.Builder
		ln, err := listen(defaultAddr, &out)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		want := defaultAddr + " is busy; using " + ln.Addr().String() + " instead.\n"
		if !strings.HasPrefix(out.String(), want) {
			t.Errorf("output %q, want it to start with %q", out.String(), want)
		}
	})
}
