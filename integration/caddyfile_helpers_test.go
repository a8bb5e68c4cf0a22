package integration

import "fmt"

// boltGlobals is the global options block most integration Caddyfiles
// start with: Caddy's admin endpoint on localhost:2999 (the suite's one),
// plain HTTP on httpPort, and authgate's storage in the bbolt file db.
func boltGlobals(httpPort int, db string) string {
	return fmt.Sprintf(`{
	skip_install_trust
	admin localhost:2999
	http_port %d
	authgate {
		storage bolt %s
	}
}
`, httpPort, db)
}
