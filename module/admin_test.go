package module

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestRotatedSecretTTLCaddyfile(t *testing.T) {
	var h IssuerHandler
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("authgate_issuer {\nissuer https://a\nrotated_secret_ttl 48h\n}")); err != nil {
		t.Fatal(err)
	}
	if time.Duration(h.RotatedSecretTTL) != 48*time.Hour {
		t.Fatalf("rotated_secret_ttl = %s", time.Duration(h.RotatedSecretTTL))
	}
	for name, in := range map[string]string{
		"bad":       "authgate_issuer {\nissuer https://a\nrotated_secret_ttl soon\n}",
		"negative":  "authgate_issuer {\nissuer https://a\nrotated_secret_ttl -1h\n}",
		"no arg":    "authgate_issuer {\nissuer https://a\nrotated_secret_ttl\n}",
		"duplicate": "authgate_issuer {\nissuer https://a\nrotated_secret_ttl 1h\nrotated_secret_ttl 2h\n}",
	} {
		var h IssuerHandler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in))
		if err == nil || !strings.Contains(err.Error(), "Testfile:3") && !strings.Contains(err.Error(), "Testfile:4") {
			t.Errorf("%s: %v, want an error with file:line", name, err)
		}
	}
}

// The API's error answer becomes the CLI's message and exit code.
func TestCLIAPIError(t *testing.T) {
	for _, c := range []struct {
		in   string
		code int
		msg  string
	}{
		{`caddy responded with error: HTTP 400: {"error":"name: required","field":"name"}`, ExitBadInput, "name: required (HTTP 400)"},
		{`caddy responded with error: HTTP 404: {"error":"no client \"x\""}`, ExitNotFound, `no client "x" (HTTP 404)`},
		{`caddy responded with error: HTTP 409: {"error":"read-only"}`, ExitConflict, "read-only (HTTP 409)"},
		{`caddy responded with error: HTTP 503: {"error":"storage unavailable"}`, ExitFailure, "storage unavailable (HTTP 503)"},
		{`caddy responded with error: HTTP 500: not json`, ExitFailure, "not json (HTTP 500)"},
		{`performing request: dial tcp: connection refused`, ExitFailure, "connection refused"},
	} {
		err := apiError(errors.New(c.in))
		if exitCode(err) != c.code || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: exit %d %q, want %d %q", c.in, exitCode(err), err, c.code, c.msg)
		}
	}
}

func TestCLILifetimeFlag(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "3600": 3600, "1h": 3600, "90s": 90, "default": 0, "2147483647": 2147483647, "1d": 86400} {
		if got, err := parseLifetimeFlag("ttl", in); err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "-1", "0s", "1.5s", "500ms", "2147483648", "2147483648s", "soon", ""} {
		if _, err := parseLifetimeFlag("ttl", in); exitCode(err) != ExitBadInput || !strings.Contains(err.Error(), "--ttl") {
			t.Errorf("%q: %v, want a --ttl usage error", in, err)
		}
	}
}
