package redisstore_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// sharedRedis returns a client for the redis-server that `make test` starts
// (scripts/with-redis.sh exports TOLLGATE_REDIS_ADDR). Without one the test
// is skipped, or fails on CI.
func sharedRedis(t testing.TB) *redis.Client {
	t.Helper()
	addr := os.Getenv("TOLLGATE_REDIS_ADDR")
	if addr == "" {
		noRedis(t)
	}
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis at TOLLGATE_REDIS_ADDR=%s: %v", addr, err)
	}
	return c
}

// liveTimeout bounds decisions on a Redis that is up. The default (100 ms)
// is what production wants; on a loaded test machine running -race, a
// decision can take longer, fall back to the local limiter and break an
// exact count, so tests that are not about timeouts give it room.
const liveTimeout = 5 * time.Second

func noRedis(t testing.TB) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal("redis: TOLLGATE_REDIS_ADDR not set on CI; run tests through ./scripts/with-redis.sh")
	}
	t.Skip("redis: TOLLGATE_REDIS_ADDR not set; run `make test` to start a real redis-server")
}

// prefix gives each test its own keys on the shared server.
func prefix(t testing.TB) string {
	return fmt.Sprintf("tollgate-test:%s:%d:", t.Name(), time.Now().UnixNano())
}

// ownRedis is a redis-server this test starts, stops and restarts on one
// loopback port, to take Redis away mid-test.
type ownRedis struct {
	t    testing.TB
	bin  string
	port int
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

func startOwnRedis(t testing.TB) *ownRedis {
	t.Helper()
	bin := os.Getenv("TOLLGATE_REDIS_SERVER")
	if bin == "" {
		noRedis(t)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	r := &ownRedis{t: t, bin: bin, port: port, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *ownRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.t.TempDir())
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start %s: %v", r.bin, err)
	}
	r.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(r.cmd, r.done)
	c := redis.NewClient(&redis.Options{Addr: r.addr, MaxRetries: -1})
	defer c.Close()
	// Readiness, not timing: poll until the server answers.
	for i := 0; ; i++ {
		if c.Ping(context.Background()).Err() == nil {
			return
		}
		if i == 500 {
			r.t.Fatalf("redis-server on %s did not answer PING", r.addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *ownRedis) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	r.cmd.Process.Kill()
	<-r.done
	r.cmd = nil
}

// concurrently runs f n times at once and returns how many returned true.
func concurrently(n int, f func(i int) bool) int {
	var mu sync.Mutex
	count := 0
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if f(i) {
				mu.Lock()
				count++
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	return count
}
