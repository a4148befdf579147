// Package redistest gives tollgate's tests real Redis servers: the shared
// one `make test` starts, servers of the test's own that it may kill, pause
// (SIGSTOP) and restart, a Redis Cluster built with `redis-cli --cluster
// create`, and a loopback fault proxy (latency, a black hole, dropped
// connections).
//
// Nothing here is a mock: every server is a real redis-server process,
// found through TOLLGATE_REDIS_SERVER (exported by scripts/with-redis.sh) or
// on PATH. Without one a test skips, saying why; under CI=true it fails
// instead, so CI never passes by skipping. Every server and proxy listens on
// 127.0.0.1 only, is owned by the test that started it, and is stopped by
// t.Cleanup. A test only ever kills or pauses processes it started.
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Missing skips t, or fails it on CI, because no Redis is at hand.
func Missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("redis: %s on CI; run the tests through ./scripts/with-redis.sh (make test)", why)
	}
	t.Skipf("redis: %s; run `make test` to start a real redis-server", why)
}

// SharedAddr returns the address of the redis-server `make test` started
// (TOLLGATE_REDIS_ADDR). Tests on it must use keys of their own (see
// Prefix) and must never stop it.
func SharedAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("TOLLGATE_REDIS_ADDR")
	if addr == "" {
		Missing(t, "TOLLGATE_REDIS_ADDR not set")
	}
	return addr
}

// Shared returns a client of the shared redis-server, closed at cleanup.
func Shared(t testing.TB) *redis.Client {
	t.Helper()
	addr := SharedAddr(t)
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis at TOLLGATE_REDIS_ADDR=%s: %v", addr, err)
	}
	return c
}

// Prefix returns a key prefix of the test's own, for keys on a shared
// server.
func Prefix(t testing.TB) string {
	return fmt.Sprintf("tollgate-test:%s:%d:", t.Name(), time.Now().UnixNano())
}

// serverBinary finds redis-server, or skips the test.
func serverBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("TOLLGATE_REDIS_SERVER"); bin != "" {
		return bin
	}
	if bin, err := exec.LookPath("redis-server"); err == nil {
		return bin
	}
	Missing(t, "no redis-server (TOLLGATE_REDIS_SERVER not set, none on PATH)")
	return ""
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Server is a redis-server of the test's own on one loopback port, which
// keeps its port across Restart. It runs without persistence: a restart
// loses every key, as a Redis without RDB or AOF does.
type Server struct {
	t     testing.TB
	bin   string
	port  int
	dir   string
	extra []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	paused bool
}

// Start starts a redis-server of the test's own and waits until it answers
// PING. Extra arguments are passed to redis-server (e.g. "--cluster-enabled",
// "yes"). It is killed at cleanup.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	s := &Server{t: t, bin: serverBinary(t), dir: t.TempDir(), extra: extra}
	cluster := slices.Contains(extra, "--cluster-enabled")
	// A port free a moment ago may be taken before redis-server binds it
	// (other packages' tests pick ports too): a server that exits at once
	// is started again on another port.
	for attempt := 1; ; attempt++ {
		s.port = FreePort(t)
		if cluster && (s.port+10000 > 65535 || !portFree(s.port+10000)) {
			continue // the cluster bus listens on port+10000
		}
		err := s.tryStart()
		if err == nil {
			break
		}
		s.Kill()
		if attempt == 5 {
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			t.Fatalf("redis-server on %s: %v\n%s", s.Addr(), err, log)
		}
	}
	t.Cleanup(s.Kill)
	return s
}

// portFree reports whether a loopback TCP port can be listened on now.
func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port is the server's port.
func (s *Server) Port() int { return s.port }

func (s *Server) start() {
	s.t.Helper()
	if err := s.tryStart(); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
		s.t.Fatalf("redis-server on %s: %v\n%s", s.Addr(), err, log)
	}
}

// tryStart starts the server and waits until it answers PING, or returns
// why not: it exited (its port was taken, say), or did not answer in time.
func (s *Server) tryStart() error {
	args := append([]string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--logfile", filepath.Join(s.dir, "redis.log")}, s.extra...)
	cmd := exec.Command(s.bin, args...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done, s.paused = cmd, done, false
	s.mu.Unlock()
	return waitPing(s.Addr(), 10*time.Second, done)
}

// waitPing polls addr until it answers PING or d passes (readiness, not
// timing).
func waitPing(addr string, d time.Duration, exited <-chan struct{}) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	deadline := time.Now().Add(d)
	for {
		err := c.Ping(context.Background()).Err()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited: %w", err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer to PING: %w", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Kill ends the server at once (SIGKILL), resuming it first if paused. Its
// data is gone. Killing a stopped server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done, paused := s.cmd, s.done, s.paused
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	if paused {
		cmd.Process.Signal(syscall.SIGCONT)
	}
	cmd.Process.Kill()
	<-done
}

// Restart kills the server and starts a new one on the same port, empty.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	s.start()
}

// StartAgain starts a killed server again on its port, empty.
func (s *Server) StartAgain() {
	s.t.Helper()
	s.start()
}

// Pause freezes the server (SIGSTOP): connections stay open and nothing is
// answered, as with a Redis stuck in a long command or a swapping host.
func (s *Server) Pause() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && !s.paused {
		s.cmd.Process.Signal(syscall.SIGSTOP)
		s.paused = true
	}
}

// Resume undoes Pause (SIGCONT).
func (s *Server) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && s.paused {
		s.cmd.Process.Signal(syscall.SIGCONT)
		s.paused = false
	}
}

// Client returns a plain client of the server, closed at cleanup.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), ContextTimeoutEnabled: true})
	s.t.Cleanup(func() { c.Close() })
	return c
}

// Cluster is a Redis Cluster of the test's own: masters with one replica
// each, built with `redis-cli --cluster create`.
type Cluster struct {
	t     testing.TB
	Nodes []*Server
}

// StartCluster starts 2×masters redis-servers in cluster mode (one replica
// per master) and joins them into a cluster, waiting until every node
// reports cluster_state:ok. Node timeouts are short (1 s) so a killed
// master fails over within a few seconds.
func StartCluster(t testing.TB, masters int) *Cluster {
	t.Helper()
	cli := os.Getenv("TOLLGATE_REDIS_CLI")
	if cli == "" {
		var err error
		if cli, err = exec.LookPath("redis-cli"); err != nil {
			Missing(t, "no redis-cli on PATH to build a cluster")
		}
	}
	c := &Cluster{t: t}
	var addrs []string
	for range 2 * masters {
		n := Start(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "1000", "--cluster-replica-validity-factor", "0")
		c.Nodes = append(c.Nodes, n)
		addrs = append(addrs, n.Addr())
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitHealthy(30 * time.Second)
	return c
}

// Addrs are every node's address, for redis.ClusterOptions.Addrs.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.Addr())
	}
	return out
}

// WaitHealthy waits until every running node reports cluster_state:ok and
// agrees that every slot is served, or fails the test after d.
func (c *Cluster) WaitHealthy(d time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		if c.healthy() {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("redis cluster not healthy after %s", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *Cluster) healthy() bool {
	for _, n := range c.Nodes {
		n.mu.Lock()
		up := n.cmd != nil && !n.paused
		n.mu.Unlock()
		if !up {
			continue
		}
		cl := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond})
		info, err := cl.ClusterInfo(context.Background()).Result()
		cl.Close()
		if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") {
			return false
		}
	}
	return true
}

// MasterFor returns the node currently serving key's slot as master: the
// one master that answers a command on key instead of redirecting it.
func (c *Cluster) MasterFor(key string) *Server {
	c.t.Helper()
	for _, n := range c.Nodes {
		n.mu.Lock()
		up := n.cmd != nil && !n.paused
		n.mu.Unlock()
		if !up {
			continue
		}
		cl := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1})
		role, err := cl.Do(context.Background(), "ROLE").Slice()
		owns := err == nil && len(role) > 0 && role[0] == "master" &&
			cl.Exists(context.Background(), key).Err() == nil
		cl.Close()
		if owns {
			return n
		}
	}
	c.t.Fatalf("no master serves the slot of %q", key)
	return nil
}

// Client returns a cluster client with the given options' Addrs filled in,
// closed at cleanup.
func (c *Cluster) Client(opt *redis.ClusterOptions) *redis.ClusterClient {
	if opt == nil {
		opt = &redis.ClusterOptions{}
	}
	o := *opt
	o.Addrs = c.Addrs()
	cl := redis.NewClusterClient(&o)
	c.t.Cleanup(func() { cl.Close() })
	return cl
}
