package module

import (
	"fmt"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// wantIssuerCaddyfileErrors parses each named authgate_issuer block and
// checks it is refused with an error that names its file:line.
func wantIssuerCaddyfileErrors(t *testing.T, cases map[string]string) {
	t.Helper()
	for name, input := range cases {
		var h IssuerHandler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
		if err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.Contains(err.Error(), "Testfile:") {
			t.Errorf("%s: error without file:line: %v", name, err)
		}
	}
}

// wantGatewayCaddyfileError parses input as an authgate block and checks the
// error names want at Testfile:line.
func wantGatewayCaddyfileError(t *testing.T, input, want string, line int) {
	t.Helper()
	var g Gateway
	err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
	if err == nil {
		t.Fatal("accepted")
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not contain %q", err, want)
	}
	if at := fmt.Sprintf(", at Testfile:%d", line); !strings.HasSuffix(err.Error(), at) {
		t.Fatalf("error %q does not end with %q", err, at)
	}
}
