package issuer

import (
	"crypto/tls"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// A client with an IP filter is not judged on a TLS 0-RTT (early data)
// address: with the right secret the answer is 425 Too Early in RFC 6749
// shape; a wrong secret is still 401 (425 is no oracle for the filter), and a
// client without a filter is served.
func TestTokenEndpointEarlyData(t *testing.T) {
	e := newEnv(t, nil)
	e.ip = netip.MustParseAddr("10.9.9.9") // inside lan's allow_ip
	early := func(id, secret string) resp {
		r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(url.Values{"grant_type": {GrantClientCredentials}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(id, secret)
		r.TLS = &tls.ConnectionState{HandshakeComplete: false}
		return e.serve(r)
	}
	wantOAuthError(t, early("lan", "lan-secret"), 425, errInvalidRequest)
	wantOAuthError(t, early("lan", "wrong"), 401, errInvalidClient)
	if r := early("app", "app-secret"); r.status != 200 {
		t.Fatalf("client without IP filter in early data: %d %s", r.status, r.raw)
	}
	e.token("lan", "lan-secret", nil) // after the handshake
}
