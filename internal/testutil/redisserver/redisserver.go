// Package redisserver starts real `redis-server` processes (Debian's
// package `redis-server`) for tests: a standalone server or a Cluster of
// three masters, each on a free port of a given range, with its own
// temporary directory, stopped on t.Cleanup.
//
//	srv := redisserver.Start(t, redisserver.Options{AOF: true})
//	client := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
//	srv.Restart(t) // same port, same data directory
//
//	cl := redisserver.StartCluster(t, redisserver.Options{})
//	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs()})
//
// Where redis-server is not installed the test is skipped with a message
// naming the package, except under CI=true, where it fails: nothing is
// skipped silently where it counts.
package redisserver

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil"
)

// Default port range (the issue's: bus ports of a Cluster are +10000).
const (
	DefaultFirstPort = 6400
	DefaultLastPort  = 6449
)

// Options tune Start and StartCluster.
type Options struct {
	// AOF turns on the append-only file with appendfsync always (nothing
	// acknowledged is lost on a kill -9); default off (no persistence).
	AOF bool
	// FirstPort and LastPort bound the ports tried; default 6400-6449.
	FirstPort, LastPort int
	// Args are extra redis-server arguments ("--maxmemory", "10mb").
	Args []string
	// TLS, when set, makes the server speak TLS only (its port is the
	// tls-port; the plain port is off): see StartTLS.
	TLS *TLSFiles
}

// TLSFiles are the PEM files of a TLS server: its certificate and key, and
// the CA its clients' certificates would chain to (clients need none:
// tls-auth-clients no).
type TLSFiles struct {
	CertFile, KeyFile, CAFile string
	// Client is the client side: it trusts CAFile (for PING and Command).
	Client *tls.Config
}

// Server is one running redis-server.
type Server struct {
	Addr string // 127.0.0.1:port
	Port int
	Dir  string // its data directory

	args []string
	tls  *tls.Config // client side, when the server speaks TLS
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Path returns the redis-server binary, or "" when there is none.
func Path() string {
	name := "redis-server"
	if p := os.Getenv("REDIS_SERVER"); p != "" {
		name = p
	}
	p, _ := exec.LookPath(name)
	return p
}

// Require skips the test (fails it under CI=true) when redis-server or
// redis-cli is missing, and returns the server's path.
func Require(t testing.TB) string {
	t.Helper()
	testutil.SkipIfShort(t, "run redis-server")
	p := Path()
	_, cliErr := exec.LookPath("redis-cli")
	if p != "" && cliErr == nil {
		return p
	}
	msg := "redis-server/redis-cli not found: install the Debian package redis-server (apt-get install redis-server)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	} else {
		t.Skip(msg)
	}
	return ""
}

// portMu serialises port picking within one test binary (claimFree).
var portMu sync.Mutex

// Start starts a standalone redis-server on a free port.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	return start(t, opts, nil)
}

func start(t testing.TB, opts Options, extra func(dir string) []string) *Server {
	t.Helper()
	return onFreePort(t, opts, extra != nil, func(bin string, port int, dir string) []string {
		args := []string{
			bin, "--bind", "127.0.0.1", "--dir", dir,
			"--save", "", "--daemonize", "no", "--protected-mode", "no",
			"--logfile", filepath.Join(dir, "redis.log"),
		}
		if opts.TLS != nil {
			args = append(args, "--port", "0", "--tls-port", strconv.Itoa(port),
				"--tls-cert-file", opts.TLS.CertFile, "--tls-key-file", opts.TLS.KeyFile,
				"--tls-ca-cert-file", opts.TLS.CAFile, "--tls-auth-clients", "no")
		} else {
			args = append(args, "--port", strconv.Itoa(port))
		}
		if opts.AOF {
			args = append(args, "--appendonly", "yes", "--appendfsync", "always")
		} else {
			args = append(args, "--appendonly", "no")
		}
		if extra != nil {
			args = append(args, extra(dir)...)
		}
		return append(args, opts.Args...)
	})
}

// onFreePort launches the command that args builds (for a port and a fresh
// directory) on the first port of the range that is free (and whose
// Cluster bus port, +10000, is too when bus is set), trying the next one
// when it loses a race for it.
func onFreePort(t testing.TB, opts Options, bus bool, args func(bin string, port int, dir string) []string) *Server {
	t.Helper()
	bin := Require(t)
	if opts.FirstPort == 0 {
		opts.FirstPort, opts.LastPort = DefaultFirstPort, DefaultLastPort
	}
	var lastErr error
	for next := opts.FirstPort; ; {
		port, release, ok := claimFree(next, opts.LastPort, bus)
		if !ok {
			break
		}
		next = port + 1
		dir := t.TempDir()
		s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), Port: port, Dir: dir, args: args(bin, port, dir)}
		if opts.TLS != nil {
			s.tls = opts.TLS.Client
		}
		if lastErr = s.launch(); lastErr != nil {
			release()
			continue
		}
		t.Cleanup(release) // cleanups run last-in first-out: Stop, then release
		t.Cleanup(s.Stop)
		return s
	}
	t.Fatalf("redisserver: no port of %d-%d could be used: %v", opts.FirstPort, opts.LastPort, lastErr)
	return nil
}

// claimFree claims the first free port of from-last (and its bus port when
// bus is set). Tests of one binary may start servers in parallel: the
// claim is what keeps them apart (a second claim of a port fails in the
// same process too), and only picking is serialised, not launching.
func claimFree(from, last int, bus bool) (port int, release func(), ok bool) {
	portMu.Lock()
	defer portMu.Unlock()
	for port = from; port <= last; port++ {
		release, ok := claimPort(port)
		if !ok {
			continue
		}
		if !free(port) || (bus && !free(port+10000)) {
			release()
			continue
		}
		return port, release, true
	}
	return 0, nil, false
}

// claimPort takes a machine-wide claim on a port (an flock'ed file in the
// temporary directory) until release: go test runs packages in parallel,
// and a test that stops its server on purpose (outage, restart with AOF)
// must not see another package's server start on the port meanwhile. A
// process that dies drops its claims with its file descriptors.
func claimPort(port int) (release func(), ok bool) {
	path := filepath.Join(os.TempDir(), "authgate-redisserver-"+strconv.Itoa(port)+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, false
	}
	return func() { _ = f.Close() }, true
}

func free(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// launch starts the process and waits until it answers PING.
func (s *Server) launch() error {
	cmd := exec.Command(s.args[0], s.args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("redis-server exited at start: %s", s.LogTail())
		default:
		}
		if err := s.ping(); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond) // polling a child process, not a timer
	}
	s.Kill()
	return fmt.Errorf("redis-server on %s did not answer: %s", s.Addr, s.LogTail())
}

// ping reports whether the server answers; an error reply (NOAUTH of a
// server with requirepass) is an answer.

func (s *Server) ping() error { return answers(s.Command("PING")) }

// Command sends one command to the server (over TLS when it speaks TLS).
func (s *Server) Command(args ...string) (string, error) {
	if s.tls == nil {
		return Command(s.Addr, args...)
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", s.Addr, s.tls)
	if err != nil {
		return "", err
	}
	return command(c, args...)
}

func answers(_ string, err error) error {
	var re ReplyError
	if errors.As(err, &re) {
		return nil
	}
	return err
}

// ReplyError is an error reply of the server (Command).
type ReplyError string

func (e ReplyError) Error() string { return "redis: " + string(e) }

// Command sends one command to addr in RESP and returns the first reply
// line (or the bulk string): enough for PING, CLUSTER INFO, DEBUG.
func Command(addr string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	return command(c, args...)
}

func command(c net.Conn, args ...string) (string, error) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "-"):
		return "", ReplyError(line[1:])
	case strings.HasPrefix(line, "$"):
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := ioReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return strings.TrimPrefix(strings.TrimPrefix(line, "+"), ":"), nil
}

func ioReadFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Stop ends the server gracefully (SIGTERM: an AOF is flushed) and waits.
func (s *Server) Stop() { s.signal(syscall.SIGTERM) }

// Kill ends the server with SIGKILL and waits.
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Restart stops the server (SIGTERM) and starts it again on the same port
// with the same data directory.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	s.Start(t)
}

// Start starts a stopped server again (same port, same directory).
func (s *Server) Start(t testing.TB) {
	t.Helper()
	var err error
	for range 50 { // the port may linger briefly after a kill
		if err = s.launch(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("redisserver: restarting %s: %v", s.Addr, err)
}

// LogTail returns the end of the server's log, for failure messages.
func (s *Server) LogTail() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
