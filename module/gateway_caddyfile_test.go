package module

import (
	"fmt"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/authgate/caddy-authgate/handlers/gateway"
)

func TestGatewayCaddyfileErrors(t *testing.T) {
	cases := []struct {
		name, input, want string
		line              int
	}{
		{"argument on directive", "authgate extra {\n}", `wrong argument count`, 1},
		{"unknown subdirective", "authgate {\n\tissuer https://a\n\tfrobnicate 1\n}", `unknown subdirective "frobnicate"`, 3},
		{"duplicate hmac_secret", "authgate {\n\thmac_secret a\n\thmac_secret b\n}", `duplicate subdirective "hmac_secret"`, 3},
		{"duplicate realm", "authgate {\n\trealm a\n\trealm b\n}", `duplicate subdirective "realm"`, 3},
		{"issuer without url", "authgate {\n\tissuer\n}", `wrong argument count`, 2},
		{"key with two files", "authgate {\n\tkey a b\n}", `wrong argument count`, 2},
		{"bad leeway", "authgate {\n\tleeway soon\n}", `invalid duration "soon"`, 2},
		{"negative cache_size", "authgate {\n\tcache_size -1\n}", `cache_size must be an integer from 0 to 1000000`, 2},
		{"huge cache_size", "authgate {\n\tissuer https://a\n\tcache_size 99999999999999\n}", `cache_size must be an integer from 0 to 1000000, got "99999999999999"`, 3},
		{"cache_size above the bound", "authgate {\n\tcache_size 1000001\n}", `cache_size must be an integer from 0 to 1000000`, 2},
		{"claim without value", "authgate {\n\tclaim roles\n}", `claim needs a path and at least one value`, 2},
		{"header without claim", "authgate {\n\theader X-User\n}", `header needs a header name and a claim path`, 2},
		{"token_source bad kind", "authgate {\n\ttoken_source body t\n}", `token_source kind "body"`, 2},
		{"token_source query with scheme", "authgate {\n\ttoken_source query t Bearer\n}", `wrong argument count`, 2},
		{"strip_token with argument", "authgate {\n\tstrip_token yes\n}", `wrong argument count`, 2},
		{"jwks unknown option", "authgate {\n\tjwks https://a/jwks {\n\t\trefresh_often 1m\n\t}\n}", `unknown jwks option "refresh_often"`, 3},
		{"jwks duplicate option", "authgate {\n\tjwks https://a/jwks {\n\t\ttimeout 1s\n\t\ttimeout 2s\n\t}\n}", `duplicate jwks option "timeout"`, 4},
		{"jwks bad duration", "authgate {\n\tjwks https://a/jwks {\n\t\ttimeout x\n\t}\n}", `invalid duration "x"`, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var g Gateway
			err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
			if at := fmt.Sprintf(", at Testfile:%d", tc.line); !strings.HasSuffix(err.Error(), at) {
				t.Fatalf("error %q does not end with %q", err, at)
			}
		})
	}
}

func TestGatewayCaddyfileRepeatableSubdirectivesAppend(t *testing.T) {
	var g Gateway
	err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`authgate {
		issuer https://a
		issuer https://b https://c
		scope x
		scope y
		allow_ip 10.0.0.0/8
		allow_ip 192.0.2.1
		jwks https://a/jwks
		jwks https://b/jwks {
			max_stale 1h
		}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(g.Issuers, " ") != "https://a https://b https://c" || strings.Join(g.Scopes, " ") != "x y" ||
		len(g.AllowIP) != 2 || len(g.JWKS) != 2 || g.JWKS[1].MaxStale == 0 || g.JWKS[0].MaxStale != 0 {
		t.Fatalf("parsed %+v", g)
	}
}

func TestGatewayValidate(t *testing.T) {
	cases := []struct {
		name  string
		input string
		want  string
	}{
		{"relative issuer", "authgate {\n\tissuer idp.example\n}", "scheme must be https or http"},
		{"jwks refetch too fast", "authgate {\n\tjwks https://idp/jwks {\n\t\trefetch_interval 10ms\n\t}\n}", "refetch_interval 10ms is below the minimum of 1s"},
		{"jwks timeout too short", "authgate {\n\tjwks https://idp/jwks {\n\t\ttimeout 1ms\n\t}\n}", "timeout 1ms is below the minimum"},
		{"jwks ftp", "authgate {\n\tjwks ftp://idp/jwks\n}", "scheme must be https or http"},
		{"leeway too large", "authgate {\n\tissuer https://idp\n\tleeway 1h\n}", "leeway must be between 0 and 10m"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var g Gateway
			if err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input)); err != nil {
				t.Fatal(err)
			}
			err := g.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

// JSON configs bypass the Caddyfile parser: Validate bounds cache_size too.
func TestGatewayValidateCacheSize(t *testing.T) {
	for _, n := range []int{-1, gateway.MaxCacheSize + 1, 99999999999999} {
		g := Gateway{Issuers: []string{"https://idp"}, CacheSize: &n}
		if err := g.Validate(); err == nil || !strings.Contains(err.Error(), "cache_size must be between 0 and 1000000") {
			t.Errorf("cache_size %d: Validate() = %v", n, err)
		}
	}
	n := gateway.MaxCacheSize
	g := Gateway{Issuers: []string{"https://idp"}, CacheSize: &n}
	if err := g.Validate(); err != nil {
		t.Errorf("cache_size at the bound: %v", err)
	}
}

func TestSameKeySourcesShareOneTokenCache(t *testing.T) {
	a, releaseA, _ := sharedTokenCache("fingerprint-1", 100)
	b, releaseB, _ := sharedTokenCache("fingerprint-1", 100)
	c, releaseC, _ := sharedTokenCache("fingerprint-2", 100)
	defer releaseA()
	defer releaseB()
	defer releaseC()
	if a == nil || a != b {
		t.Fatal("handlers with the same key sources got different caches")
	}
	if a == c {
		t.Fatal("handlers with different key sources share a cache")
	}
	if off, release, _ := sharedTokenCache("fingerprint-1", 0); off != nil {
		t.Fatal("cache_size 0 did not disable the cache")
	} else {
		release()
	}
}

func TestKeySourceDroppedWhenNoConfigHoldsIt(t *testing.T) {
	dropped := 0
	drop := func() { dropped++ }
	oldConfig, err := holdSource("jwks https://idp.test/jwks", drop)
	if err != nil {
		t.Fatal(err)
	}
	newConfig, _ := holdSource("jwks https://idp.test/jwks", drop) // a reload keeps it
	oldConfig()
	if dropped != 0 {
		t.Fatal("source dropped while the new config still uses it")
	}
	newConfig() // a later reload removes it
	if dropped != 1 {
		t.Fatalf("dropped %d times, want once", dropped)
	}
}
