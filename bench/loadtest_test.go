package bench

import (
	"bufio"
	"context"
	"crypto/rsa"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
)

// The load test is off by default: it prints figures and asserts none, and
// takes about a minute (most of it minting 20,000 RS256 tokens). Run it
// with
//
//	go test -run LoadTest -loadtest            # or TOLLGATE_LOADTEST=1
//	go test -run LoadTest -loadtest -loadtest.duration 10s -loadtest.concurrency 16 -loadtest.rounds 5
var (
	loadTestFlag        = flag.Bool("loadtest", false, "run TestLoadTest (also TOLLGATE_LOADTEST=1)")
	loadTestDuration    = flag.Duration("loadtest.duration", 3*time.Second, "how long the load test drives each server")
	loadTestConcurrency = flag.Int("loadtest.concurrency", 8, "requests the load test keeps in flight")
	loadTestRounds      = flag.Int("loadtest.rounds", 3, "rounds of every server in turn; medians are reported")
)

// loadGenEnv, when set, makes the test binary the load generator rather
// than the tests (see TestMain): the client runs in a process of its own,
// so that the server's getrusage counts the server alone.
const loadGenEnv = "TOLLGATE_LOADGEN"

// loadTokenCounts are the load test's token sets.
const (
	loadCachedTokens      = 5_000
	loadNeverCachedTokens = 20_000
)

// TestLoadTest serves the chain, a bare handler, auth0/go-jwt-middleware and
// a bare rsa.VerifyPKCS1v15 handler over real HTTP on loopback, each driven
// for a bounded time by a fixed number of keep-alive connections from a
// separate process (this binary, run as the load generator), and prints
// requests per second and the server process's CPU time per request
// (getrusage, user + system, garbage collection included) for: one token,
// 5,000 distinct cached tokens, and 20,000 RS256 tokens never cached.
//
// Loopback is not in the chain's allow-list, so every server, the bare
// handler included, sits behind the same front that sets RemoteAddr to a
// documentation address in the allow-list.
func TestLoadTest(t *testing.T) {
	if !*loadTestFlag && os.Getenv("TOLLGATE_LOADTEST") == "" {
		t.Skip("load test: run with -loadtest or TOLLGATE_LOADTEST=1")
	}
	dir := t.TempDir()
	same := writeTokens(t, dir, "same", []string{theToken()})
	cachedTokens := mintTokens("load-cached-", loadCachedTokens)
	cached := writeTokens(t, dir, "cached", cachedTokens)
	never := writeTokens(t, dir, "never", mintTokens("load-never-", loadNeverCachedTokens))
	key := issuer.PublicKey("RS256").(*rsa.PublicKey)

	bare := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	chain := func(cacheSize int, warm []string) http.Handler {
		v := newVerifier(t, cacheSize)
		for _, tok := range warm {
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Fatal(err)
			}
		}
		return newChain(v, bare)
	}
	auth0 := func() http.Handler {
		return jwtmiddleware.New(newAuth0Validator(t).ValidateToken).CheckJWT(bare)
	}
	bareRSA := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || bareRS256(key, tok) != nil {
			w.WriteHeader(http.StatusUnauthorized)
		}
	})

	scenarios := []struct {
		name, tokens string
		h            http.Handler
	}{
		{"bare handler, no authentication", same, bare},
		{"tollgate chain, one token", same, chain(0, nil)},
		{"tollgate chain, 5k cached tokens", cached, chain(0, cachedTokens)},
		{"auth0 middleware, one token", same, auth0()},
		{"bare rsa.VerifyPKCS1v15 + JSON, 20k tokens", never, bareRSA},
		{"tollgate chain, 20k never-cached tokens", never, chain(1, nil)},
		{"auth0 middleware, 20k tokens", never, auth0()},
	}
	// Every round drives every server in turn, so that a ratio is taken
	// between figures measured close together: on a shared machine the
	// others' load changes from one minute to the next.
	rps := make([][]float64, len(scenarios))
	cpu := make([][]float64, len(scenarios))
	for range *loadTestRounds {
		for i, s := range scenarios {
			r, c := driveServer(t, s.h, s.tokens)
			rps[i], cpu[i] = append(rps[i], r), append(cpu[i], c)
		}
	}
	t.Logf("%d rounds of %v each, %d connections; medians, CPU range in brackets", *loadTestRounds, *loadTestDuration, *loadTestConcurrency)
	t.Logf("%-46s %10s %14s %16s", "server", "req/s", "CPU µs/req", "")
	for i, s := range scenarios {
		t.Logf("%-46s %10.0f %14.1f %16s", s.name, median(rps[i]), median(cpu[i]), fmt.Sprintf("(%.1f-%.1f)", slices.Min(cpu[i]), slices.Max(cpu[i])))
	}
	ratio := func(name string, a, b int) {
		var rs []float64
		for k := range cpu[a] {
			rs = append(rs, cpu[a][k]/cpu[b][k])
		}
		t.Logf("%-46s %10s %14.2f× %16s", name, "", median(rs), fmt.Sprintf("(%.2f-%.2f)", slices.Min(rs), slices.Max(rs)))
	}
	ratio("CPU: chain, one token ÷ bare handler", 1, 0)
	ratio("CPU: chain, 5k cached ÷ bare handler", 2, 0)
	ratio("CPU: chain, never cached ÷ bare RSA", 5, 4)
	ratio("CPU: auth0, one token ÷ chain, one token", 3, 1)
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func mintTokens(prefix string, n int) []string {
	tokens := make([]string, n)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				tokens[i] = mintToken(prefix + strconv.Itoa(i))
			}
		}()
	}
	wg.Wait()
	return tokens
}

func writeTokens(t *testing.T, dir, name string, tokens []string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(strings.Join(tokens, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// driveServer serves h on loopback, runs the load generator against it,
// and returns requests per second and the server's CPU µs per request.
func driveServer(t *testing.T, h http.Handler, tokens string) (rps, cpuMicros float64) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.RemoteAddr = "192.0.2.10:51234"
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(),
		loadGenEnv+"=1",
		"TOLLGATE_LOADGEN_URL="+srv.URL+"/orders/1",
		"TOLLGATE_LOADGEN_TOKENS="+tokens,
		"TOLLGATE_LOADGEN_CONCURRENCY="+strconv.Itoa(*loadTestConcurrency),
		"TOLLGATE_LOADGEN_DURATION="+loadTestDuration.String(),
	)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The generator says "go" once its tokens are read and its
	// connections open, then "done <requests> <errors> <seconds>".
	sc := bufio.NewScanner(out)
	var cpu0 time.Duration
	var n, bad int64
	var secs float64
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 1 && f[0] == "go":
			cpu0 = processCPU()
		case len(f) == 4 && f[0] == "done":
			cpu := processCPU() - cpu0
			n, _ = strconv.ParseInt(f[1], 10, 64)
			bad, _ = strconv.ParseInt(f[2], 10, 64)
			secs, _ = strconv.ParseFloat(f[3], 64)
			cpuMicros = float64(cpu.Microseconds()) / float64(n)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("load generator: %v", err)
	}
	if n == 0 || bad != 0 {
		t.Fatalf("load generator: %d requests, %d not answered 200", n, bad)
	}
	return float64(n) / secs, cpuMicros
}

// runLoadGenerator is the load generator's main: concurrency workers, each
// with its keep-alive connection, send GETs carrying the tokens in turn
// for the duration, and it reports what they did.
func runLoadGenerator() int {
	url := os.Getenv("TOLLGATE_LOADGEN_URL")
	conc, _ := strconv.Atoi(os.Getenv("TOLLGATE_LOADGEN_CONCURRENCY"))
	d, _ := time.ParseDuration(os.Getenv("TOLLGATE_LOADGEN_DURATION"))
	raw, err := os.ReadFile(os.Getenv("TOLLGATE_LOADGEN_TOKENS"))
	if err != nil || conc < 1 || d <= 0 {
		fmt.Fprintln(os.Stderr, "load generator: bad configuration", err)
		return 2
	}
	var headers []string
	for _, tok := range strings.Fields(string(raw)) {
		headers = append(headers, "Bearer "+tok)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc, DisableCompression: true,
	}}
	get := func(i int64) bool {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", headers[i%int64(len(headers))])
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	var next, done, bad atomic.Int64
	var wg sync.WaitGroup
	for range conc { // open the connections before the clock starts
		wg.Add(1)
		go func() { defer wg.Done(); get(next.Add(1)) }()
	}
	wg.Wait()
	fmt.Println("go")
	start := time.Now()
	deadline := start.Add(d)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if get(next.Add(1)) {
					done.Add(1)
				} else {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	fmt.Printf("done %d %d %.3f\n", done.Load(), bad.Load(), time.Since(start).Seconds())
	return 0
}
