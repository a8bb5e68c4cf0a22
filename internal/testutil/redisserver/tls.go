package redisserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/caddy-authgate/internal/testutil"
)

// StartTLS starts a standalone redis-server that speaks only TLS, with a
// certificate for 127.0.0.1 from a fresh test CA, and returns it with the
// CA's pool (what a client must trust). A redis-server built without TLS
// skips the test, naming the reason (fails it under CI=true).
func StartTLS(t testing.TB, opts Options) (*Server, *x509.CertPool) {
	t.Helper()
	Require(t)
	ca := testutil.NewCA(t, "redis test CA")
	leaf := ca.Issue(t, testutil.CertOptions{Server: true, IPs: []string{"127.0.0.1"}, DNS: []string{"localhost"}})
	dir := t.TempDir()
	cert, key := leaf.WriteFiles(t, dir, "redis")
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	if !tlsBuilt(t) {
		msg := "this redis-server is built without TLS (BUILD_TLS=no): the TLS tests need Debian's redis-server 6 or later"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	opts.TLS = &TLSFiles{CertFile: cert, KeyFile: key, CAFile: caFile,
		Client: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}}
	return Start(t, opts), pool
}

// tlsBuilt reports whether redis-server accepts TLS settings: a build
// without TLS refuses tls-port at start ("not supported"), one with it
// complains only of the missing certificate.
func tlsBuilt(t testing.TB) bool {
	t.Helper()
	out, _ := execOutput(Path(), "--port", "0", "--tls-port", "1", "--daemonize", "no")
	return strings.Contains(out, "tls-key-file") || strings.Contains(out, "tls-cert-file")
}

// execOutput runs a short-lived redis-server and returns what it printed.
func execOutput(bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	return string(out), err
}

// ACLOnly creates the ACL user name (every key, channel and command) with
// password and switches the default user off, so that only name gets in.
func (s *Server) ACLOnly(t testing.TB, name, password string) {
	t.Helper()
	if _, err := s.Command("ACL", "SETUSER", name, "on", ">"+password, "~*", "&*", "+@all"); err != nil {
		t.Fatalf("ACL SETUSER %s: %v", name, err)
	}
	if _, err := s.Command("ACL", "SETUSER", "default", "off"); err != nil {
		t.Fatalf("ACL SETUSER default off: %v", err)
	}
}
