package module

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// clientIP returns the client address that Caddy resolved for r, which
// honours the server's trusted_proxies (authgate never reads
// X-Forwarded-For itself), unmapped, and its raw text for logs. It falls back
// to r.RemoteAddr only when Caddy's variable is missing. An unparseable
// address is the zero Addr, which no IP list allows.
func clientIP(r *http.Request) (netip.Addr, string) {
	raw, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	if raw == "" {
		raw = r.RemoteAddr
		if host, _, err := net.SplitHostPort(raw); err == nil {
			raw = host
		}
	}
	a, err := netip.ParseAddr(raw)
	if err != nil {
		return netip.Addr{}, raw
	}
	return a.Unmap(), raw
}

// earlyDataError refuses, like Caddy's client_ip matcher, to judge an
// address during a TLS 0-RTT request, whose source is not verified yet: the
// client retries after the handshake.
func earlyDataError(r *http.Request) error {
	if r.TLS != nil && !r.TLS.HandshakeComplete {
		return caddyhttp.Error(http.StatusTooEarly, fmt.Errorf("TLS handshake not complete, remote IP cannot be verified"))
	}
	return nil
}
