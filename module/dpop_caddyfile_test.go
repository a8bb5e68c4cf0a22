package module

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// DPoP knobs refused where they are written, with file:line.
func TestDPoPCaddyfileErrors(t *testing.T) {
	gw := []struct{ name, input, want string }{
		{"unknown mode", "authgate {\n\tissuer https://idp\n\tdpop sometimes\n}", `dpop must be required, optional or off, got "sometimes"`},
		{"no mode", "authgate {\n\tissuer https://idp\n\tdpop\n}", "wrong argument count"},
		{"two modes", "authgate {\n\tissuer https://idp\n\tdpop required off\n}", "wrong argument count"},
		{"duplicate", "authgate {\n\tissuer https://idp\n\tdpop required\n\tdpop off\n}", `duplicate subdirective "dpop"`},
	}
	for _, tc := range gw {
		var g Gateway
		err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "Testfile:") {
			t.Errorf("gateway %s: %v, want %q at file:line", tc.name, err, tc.want)
		}
	}
	iss := []struct{ name, input, want string }{
		{"client mode", "authgate_issuer {\nissuer https://a\nclient a {\nsecret x\ndpop off\n}\n}", `dpop must be required or optional, got "off"`},
		{"client no mode", "authgate_issuer {\nissuer https://a\nclient a {\nsecret x\ndpop\n}\n}", "wrong argument count"},
		{"nonce arg", "authgate_issuer {\nissuer https://a\ndpop_nonce yes\n}", "wrong argument count"},
		{"HMAC proof alg", "authgate_issuer {\nissuer https://a\ndpop_algorithms ES256 HS256\n}", `DPoP proof algorithm "HS256" is not supported`},
		{"no proof alg", "authgate_issuer {\nissuer https://a\ndpop_algorithms\n}", "wrong argument count"},
	}
	for _, tc := range iss {
		var h IssuerHandler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "Testfile:") {
			t.Errorf("issuer %s: %v, want %q at file:line", tc.name, err, tc.want)
		}
	}
	// JSON configs are checked by Validate.
	if err := (&Gateway{DPoP: "sometimes"}).Validate(); err == nil || !strings.Contains(err.Error(), "dpop") {
		t.Errorf("JSON dpop mode: %v", err)
	}
}
