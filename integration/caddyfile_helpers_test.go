package integration

import (
	"fmt"
	"strings"
)

// boltGlobals is the global options block most integration Caddyfiles
// start with: Caddy's admin endpoint on localhost:2999 (the suite's one),
// plain HTTP on httpPort, and authgate's storage in the bbolt file db;
// extra global options (whole lines) follow.
func boltGlobals(httpPort int, db string, extra ...string) string {
	return fmt.Sprintf(`{
	skip_install_trust
	admin localhost:2999
	http_port %d
	authgate {
		storage bolt %s
	}
%s}
`, httpPort, db, strings.Join(extra, ""))
}

// trustLoopbackProxy is a global option for boltGlobals: the client
// address comes from X-Forwarded-For when the peer is 127.0.0.1.
const trustLoopbackProxy = `	servers {
		trusted_proxies static 127.0.0.1/32
	}
`
