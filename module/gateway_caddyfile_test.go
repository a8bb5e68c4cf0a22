package module

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/authgate/caddy-authgate/handlers/gateway"
	"github.com/authgate/caddy-authgate/token"
)

func TestGatewayCaddyfileErrors(t *testing.T) {
	cases := []struct {
		name, input, want string
		line              int
	}{
		{"argument on directive", "authgate extra {\n}", `wrong argument count`, 1},
		{"unknown subdirective", "authgate {\n\tissuer https://a\n\tfrobnicate 1\n}", `unknown subdirective "frobnicate"`, 3},
		{"duplicate hmac_secret", "authgate {\n\thmac_secret " + secret32 + "\n\thmac_secret " + secret32 + "\n}", `duplicate subdirective "hmac_secret"`, 3},
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
		{"require_typ with argument", "authgate {\n\trequire_typ JWT\n}", `wrong argument count`, 2},
		{"duplicate require_typ", "authgate {\n\trequire_typ\n\trequire_typ\n}", `duplicate subdirective "require_typ"`, 3},
		{"jwks unknown option", "authgate {\n\tjwks https://a/jwks {\n\t\trefresh_often 1m\n\t}\n}", `unknown jwks option "refresh_often"`, 3},
		{"jwks duplicate option", "authgate {\n\tjwks https://a/jwks {\n\t\ttimeout 1s\n\t\ttimeout 2s\n\t}\n}", `duplicate jwks option "timeout"`, 4},
		{"jwks bad duration", "authgate {\n\tjwks https://a/jwks {\n\t\ttimeout x\n\t}\n}", `invalid duration "x"`, 3},

		// Values checked where they are written (issue 8, #8 and #14).
		{"relative issuer", "authgate {\n\tissuer idp.example\n}", "scheme must be https or http", 2},
		{"issuer with query", "authgate {\n\tissuer https://idp.example/?tenant=a\n}", "must not have a query", 2},
		{"jwks ftp", "authgate {\n\tjwks ftp://idp/jwks\n}", "scheme must be https or http", 2},
		{"jwks refetch too fast", jwksOpt("refetch_interval 10ms"), "refetch_interval 10ms is out of range: must be between 1s and 1h", 3},
		{"jwks refetch too slow", jwksOpt("refetch_interval 2h"), "refetch_interval 2h is out of range", 3},
		{"jwks timeout too short", jwksOpt("timeout 1ms"), "timeout 1ms is out of range: must be between 100ms and 1m", 3},
		{"jwks timeout too long", jwksOpt("timeout 10m"), "timeout 10m is out of range", 3},
		{"jwks refresh_min too short", jwksOpt("refresh_min 1ns"), "refresh_min 1ns is out of range: must be between 1s and 24h", 3},
		{"jwks refresh_min too long", jwksOpt("refresh_min 25h"), "refresh_min 25h is out of range", 3},
		{"jwks refresh_max too long", jwksOpt("refresh_max 1000h"), "refresh_max 1000h is out of range: must be between 1s and 168h", 3},
		{"jwks max_stale too short", jwksOpt("max_stale 1ns"), "max_stale 1ns is out of range: must be between 1s and 720h", 3},
		{"jwks max_stale too long", jwksOpt("max_stale 1000h"), "max_stale 1000h is out of range", 3},
		{"jwks negative", jwksOpt("max_stale -1s"), "max_stale -1s is out of range", 3},
		{"jwks max_stale 0 (would mean the 24h default)", jwksOpt("max_stale 0s"), "max_stale 0s is out of range: must be between 1s and 720h", 3},
		{"jwks refresh_min 0", jwksOpt("refresh_min 0"), "refresh_min 0s is out of range", 3},
		{"jwks refresh_min above refresh_max", jwksOpt("refresh_min 2h\n\t\trefresh_max 1h"), "refresh_min 2h exceeds refresh_max 1h", 2},
		{"leeway too large", "authgate {\n\tissuer https://idp\n\tleeway 1h\n}", "leeway 1h is out of range: must be between 0 and 10m", 3},
		{"leeway negative", "authgate {\n\tissuer https://idp\n\tleeway -1s\n}", "leeway -1s is out of range", 3},
		{"plain http jwks", "authgate {\n\tjwks http://idp.example/jwks\n}", `jwks "http://idp.example/jwks" uses plain http to a non-loopback host`, 2},
		{"plain http issuer", "authgate {\n\taudience a\n\tissuer https://ok.example http://idp.example\n}", `issuer "http://idp.example" uses plain http`, 3},
		{"insecure_http with argument", "authgate {\n\tinsecure_http yes\n}", "wrong argument count", 2},
		{"unknown algorithm", "authgate {\n\tjwks https://idp/jwks\n\talgorithms RS256 none\n}", `unsupported algorithm "none"`, 3},
		{"HS256 with only a JWKS", "authgate {\n\talgorithms HS256\n\tjwks https://idp/jwks\n\tkey /k.pem\n}", "algorithm HS256 needs hmac_secret", 2},
		{"RS256 with only hmac_secret", "authgate {\n\thmac_secret " + secret32 + "\n\talgorithms HS256 RS256\n}", "algorithm RS256 needs a public key", 3},
		{"short hmac_secret", "authgate {\n\thmac_secret short\n}", "hmac_secret is 5 bytes; at least 32 are required", 2},
		{"empty scope", "authgate {\n\tissuer https://idp\n\tscope \"\"\n}", `scope: empty scope ""`, 3},
		{"scope with space", "authgate {\n\tissuer https://idp\n\tscope \"a b\"\n}", `scope "a b" contains white space`, 3},
		{"empty scope_any", "authgate {\n\tissuer https://idp\n\tscope_any x \"\"\n}", `scope_any: empty scope ""`, 3},
		{"empty audience", "authgate {\n\tissuer https://idp\n\taudience \"\"\n}", `empty audience`, 3},
		{"header mapped twice, differing in case", "authgate {\n\theader X-User sub\n\theader x-user email\n}", "header X-User is mapped twice", 3},
		{"bad header name", "authgate {\n\theader \"X User\" sub\n}", `header name "X User" is not a valid HTTP field name`, 2},
		{"empty header claim", "authgate {\n\theader X-User \"\"\n}", "header needs a header name and a claim path", 2},
		{"empty claim path", "authgate {\n\tclaim \"\" x\n}", "claim needs a path", 2},
		{"empty token_source name", "authgate {\n\ttoken_source header \"\"\n}", "token_source header needs a name", 2},
		{"token_source twice", "authgate {\n\ttoken_source header Authorization Bearer\n\ttoken_source header authorization bearer\n}", "overlaps an earlier one", 3},
		{"bad allow_ip", "authgate {\n\tallow_ip 10.0.0.0/8 10.0.0.300\n}", `allow_ip: "10.0.0.300": not an IP address`, 2},
		{"no key source", "\nauthgate {\n\tscope orders:read\n}", "no key source: configure issuer, jwks, key, hmac_secret or introspect", 2},
		{"bad deny_ip", "authgate {\n\tdeny_ip 10.0.0.9-10.0.0.1\n}", `deny_ip: "10.0.0.9-10.0.0.1": range start after end`, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantGatewayCaddyfileError(t, tc.input, tc.want, tc.line)
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

// secret32 is a literal hmac_secret of the minimum length.
const secret32 = "0123456789abcdef0123456789abcdef"

func jwksOpt(opts string) string {
	return "authgate {\n\tjwks https://idp/jwks {\n\t\t" + opts + "\n\t}\n}"
}

func TestGatewayCaddyfileAccepts(t *testing.T) {
	for _, in := range []string{
		"authgate {\n\tjwks http://localhost:8080/jwks\n\tissuer http://127.0.0.1:9000 http://[::1]:9000\n}",
		"authgate {\n\tjwks http://idp.example/jwks\n\tissuer http://idp.example\n\tinsecure_http\n}", // opt-in after the URLs
		"authgate {\n\thmac_secret {env.SECRET}\n\talgorithms HS256\n}",
		"authgate {\n\tissuer https://local.example\n\talgorithms HS256\n}", // an in-process issuer may sign HS256
		"authgate {\n\tjwks https://idp/jwks {\n\t\trefresh_min 1s\n\t\trefresh_max 168h\n\t\trefetch_interval 1h\n\t\tmax_stale 720h\n\t\ttimeout 1m\n\t}\n\tleeway 10m\n}",
		"authgate {\n\tissuer https://idp\n\ttoken_source header Authorization Bearer\n\ttoken_source header Authorization DPoP\n\ttoken_source query access_token\n\ttoken_source cookie access_token\n}",
	} {
		var g Gateway
		if err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)); err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if err := g.Validate(); err != nil {
			t.Errorf("%q: Validate: %v", in, err)
		}
	}
}

// TestGatewayValidate: the same checks for JSON configs, which never pass
// through the Caddyfile parser.
func TestGatewayValidate(t *testing.T) {
	d := func(v time.Duration) *caddy.Duration { c := caddy.Duration(v); return &c }
	cases := []struct {
		name string
		g    Gateway
		want string
	}{
		{"relative issuer", Gateway{Issuers: []string{"idp.example"}}, "scheme must be https or http"},
		{"jwks refetch too fast", Gateway{JWKS: []JWKSConfig{{URL: "https://idp/jwks", RefetchInterval: caddy.Duration(10 * time.Millisecond)}}}, "refetch_interval 10ms is out of range"},
		{"jwks max_stale too long", Gateway{JWKS: []JWKSConfig{{URL: "https://idp/jwks", MaxStale: caddy.Duration(1000 * time.Hour)}}}, "max_stale 1000h is out of range"},
		{"jwks ftp", Gateway{JWKS: []JWKSConfig{{URL: "ftp://idp/jwks"}}}, "scheme must be https or http"},
		{"leeway too large", Gateway{Issuers: []string{"https://idp"}, Leeway: d(time.Hour)}, "leeway 1h is out of range"},
		{"plain http jwks", Gateway{JWKS: []JWKSConfig{{URL: "http://idp.example/jwks"}}}, "set insecure_http"},
		{"plain http issuer", Gateway{Issuers: []string{"http://idp.example"}}, "set insecure_http"},
		{"HS256 with a JWKS", Gateway{JWKS: []JWKSConfig{{URL: "https://idp/jwks"}}, Algorithms: []string{"HS256"}}, "algorithm HS256 needs hmac_secret"},
		{"unknown algorithm", Gateway{JWKS: []JWKSConfig{{URL: "https://idp/jwks"}}, Algorithms: []string{"none"}}, `unsupported algorithm "none"`},
		{"short literal secret", Gateway{HMACSecret: "short"}, "hmac_secret is 5 bytes"},
		{"empty scope", Gateway{Issuers: []string{"https://idp"}, Scopes: []string{""}}, `empty scope ""`},
		{"empty scope_any", Gateway{Issuers: []string{"https://idp"}, ScopeAny: []string{"a", ""}}, `empty scope ""`},
		{"empty audience", Gateway{Issuers: []string{"https://idp"}, Audiences: []string{""}}, "empty audience"},
		{"header twice", Gateway{Issuers: []string{"https://idp"}, Headers: []HeaderConfig{{"X-User", "sub"}, {"x-user", "email"}}}, "header X-User is mapped twice"},
		{"bad header name", Gateway{Issuers: []string{"https://idp"}, Headers: []HeaderConfig{{"X:User", "sub"}}}, "not a valid HTTP field name"},
		{"token source twice", Gateway{Issuers: []string{"https://idp"}, TokenSources: []TokenSourceConfig{{Kind: "cookie", Name: "at"}, {Kind: "cookie", Name: "at"}}}, "overlaps another one"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.g.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
	ok := Gateway{Issuers: []string{"http://idp.example"}, JWKS: []JWKSConfig{{URL: "http://idp.example/jwks"}}, InsecureHTTP: true}
	if err := ok.Validate(); err != nil {
		t.Errorf("insecure_http: %v", err)
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

// With only key files, Validate (after Provision read them) refuses an
// algorithm none of the keys fits.
func TestGatewayValidateAlgorithmsAgainstKeyFiles(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := token.NewKey("", "", &ec.PublicKey, "ec.pem")
	if err != nil {
		t.Fatal(err)
	}
	g := Gateway{Keys: []string{"ec.pem"}, Algorithms: []string{"ES256", "RS256"}}
	g.routing = &keyRouting{static: token.NewKeySet(k)}
	if err := g.Validate(); err == nil || !strings.Contains(err.Error(), "algorithm RS256 fits none of the configured keys") {
		t.Fatalf("Validate() = %v", err)
	}
	g.Algorithms = []string{"ES256"}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
}

// insecure_http: every plain-http key source is logged as a warning, a
// loopback one is not.
func TestInsecureHTTPWarns(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	g := Gateway{Issuers: []string{"http://idp.example", "http://localhost:9000"}, JWKS: []JWKSConfig{{URL: "http://10.0.0.1/jwks"}}, InsecureHTTP: true}
	g.warnCleartext(zap.New(core))
	var got []string
	for _, e := range logs.All() {
		for _, f := range e.Context {
			got = append(got, f.String)
		}
	}
	if strings.Join(got, " ") != "http://idp.example http://10.0.0.1/jwks" {
		t.Fatalf("warned about %q", got)
	}
	core, logs = observer.New(zap.WarnLevel)
	g.InsecureHTTP = false
	g.warnCleartext(zap.New(core))
	if logs.Len() != 0 {
		t.Fatal("warned without insecure_http")
	}
}
