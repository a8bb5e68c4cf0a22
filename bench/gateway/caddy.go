package main

import (
	"fmt"
	"net"
	"net/http"

	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile" // the "caddyfile" adapter
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/authgate/caddy-authgate"
)

// sites are the two loopback addresses Caddy serves: plain is
// reverse_proxy alone, gated is authgate + reverse_proxy.
type sites struct {
	plain, gated string // host:port
}

// startUpstream serves a tiny fixed body on a free loopback port.
func startUpstream() (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	body := []byte("ok")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Close() }, nil
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// caddyfileFor is the one config under test: both sites proxy to the same
// upstream; only the gated one runs authgate first. No access logs.
func caddyfileFor(portA, portB int, upstream, keyFile, siteB string) string {
	if siteB == "" {
		siteB = fmt.Sprintf(`authgate {
		key %s
		issuer %s
		audience %s
		scope %s
		header X-User sub
	}`, keyFile, benchIssuer, benchAudience, benchScope)
	}
	return fmt.Sprintf(`{
	admin off
	auto_https off
	persist_config off
	default_bind 127.0.0.1
	log {
		level ERROR
	}
}

http://127.0.0.1:%d {
	reverse_proxy %s
}

http://127.0.0.1:%d {
	%s
	reverse_proxy %s
}
`, portA, upstream, portB, siteB, upstream)
}

// startCaddy starts Caddy in a child process (see child.go) with its data
// and config dirs in dir (so nothing is written to $HOME).
func startCaddy(dir, upstream, keyFile, siteB string) (sites, *caddyChild, error) {
	portA, err := freePort()
	if err != nil {
		return sites{}, nil, err
	}
	portB, err := freePort()
	if err != nil {
		return sites{}, nil, err
	}
	c, err := startCaddyChild(dir, caddyfileFor(portA, portB, upstream, keyFile, siteB))
	if err != nil {
		return sites{}, nil, err
	}
	return sites{
		plain: fmt.Sprintf("127.0.0.1:%d", portA),
		gated: fmt.Sprintf("127.0.0.1:%d", portB),
	}, c, nil
}
