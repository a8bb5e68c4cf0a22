package module

import (
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func introspectBlock(opts string) string {
	return "authgate {\n\tintrospect https://idp.example/introspect {\n\t\t" + opts + "\n\t}\n}"
}

func TestIntrospectCaddyfileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, input, want string
		line              int
	}{
		{"no url", "authgate {\n\tintrospect {\n\t\tclient_id a\n\t}\n}", "wrong argument count", 2},
		{"two urls", "authgate {\n\tintrospect https://a https://b {\n\t\tclient_id a\n\t}\n}", "wrong argument count", 2},
		{"relative url", "authgate {\n\tintrospect /introspect {\n\t\tclient_id a\n\t}\n}", "scheme must be https or http", 2},
		{"no client_id", "authgate {\n\tintrospect https://idp/introspect\n}", "introspect https://idp/introspect needs client_id", 2},
		{"unknown option", introspectBlock("client_id a\n\t\tcache_forever 1"), `unknown introspect option "cache_forever"`, 4},
		{"duplicate option", introspectBlock("client_id a\n\t\tclient_id b"), `duplicate introspect option "client_id"`, 4},
		{"client_id two values", introspectBlock("client_id a b"), "wrong argument count", 3},
		{"bad duration", introspectBlock("client_id a\n\t\tcache_ttl soon"), `invalid duration "soon"`, 4},
		{"cache_ttl too long", introspectBlock("client_id a\n\t\tcache_ttl 2h"), "cache_ttl 2h is out of range: must be between 0s and 1h", 4},
		{"negative ttl", introspectBlock("client_id a\n\t\tnegative_cache_ttl -1s"), "negative_cache_ttl -1s is out of range", 4},
		{"timeout too short", introspectBlock("client_id a\n\t\ttimeout 1ms"), "timeout 1ms is out of range: must be between 100ms and 1m", 4},
		{"bad cache_size", introspectBlock("client_id a\n\t\tcache_size lots"), "introspect cache_size must be an integer", 4},
		{"duplicate introspect", "authgate {\n\tintrospect https://a/i {\n\t\tclient_id a\n\t}\n\tintrospect https://b/i {\n\t\tclient_id a\n\t}\n}", `duplicate subdirective "introspect"`, 5},
		{"plain http", "authgate {\n\tintrospect http://idp.example/introspect {\n\t\tclient_id a\n\t}\n}", `"http://idp.example/introspect" uses plain http to a non-loopback host`, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantGatewayCaddyfileError(t, tc.input, tc.want, tc.line)
		})
	}
}

func TestIntrospectCaddyfileAccepts(t *testing.T) {
	var g Gateway
	err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`authgate {
		introspect https://idp.example/oauth2/introspect {
			client_id gateway
			client_secret {env.INTROSPECT_SECRET}
			cache_ttl 0
			negative_cache_ttl 1h
			timeout 100ms
			cache_size 0
		}
		scope orders:read
	}`))
	if err != nil {
		t.Fatal(err)
	}
	in := g.Introspect
	ttl, neg, timeout := in.durations()
	if in.URL != "https://idp.example/oauth2/introspect" || in.ClientID != "gateway" || in.ClientSecret != "{env.INTROSPECT_SECRET}" ||
		ttl != 0 || neg != time.Hour || timeout != 100*time.Millisecond || in.cacheSize() != 0 {
		t.Fatalf("parsed %+v", in)
	}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	// Defaults, and plain http to loopback or with insecure_http.
	for _, src := range []string{
		"authgate {\n\tintrospect http://127.0.0.1:9/introspect {\n\t\tclient_id a\n\t}\n}",
		"authgate {\n\tintrospect http://idp.example/introspect {\n\t\tclient_id a\n\t}\n\tinsecure_http\n}",
	} {
		var g Gateway
		if err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser(src)); err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		ttl, neg, timeout := g.Introspect.durations()
		if ttl != 30*time.Second || neg != 5*time.Second || timeout != 5*time.Second || g.Introspect.cacheSize() != 10000 {
			t.Fatalf("defaults: %v %v %v", ttl, neg, timeout)
		}
	}
}

// JSON configs get the same checks through Validate.
func TestIntrospectValidateJSON(t *testing.T) {
	d := func(v time.Duration) *caddy.Duration { x := caddy.Duration(v); return &x }
	for _, c := range []IntrospectConfig{
		{URL: "https://idp/i"},
		{URL: "ftp://idp/i", ClientID: "a"},
		{URL: "http://idp.example/i", ClientID: "a"},
		{URL: "https://idp/i", ClientID: "a", CacheTTL: d(2 * time.Hour)},
		{URL: "https://idp/i", ClientID: "a", Timeout: d(0)},
	} {
		g := Gateway{Introspect: &c}
		if err := g.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
