package module

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
)

func TestIssuerCaddyfile(t *testing.T) {
	d := caddyfile.NewTestDispenser(`authgate_issuer {
		issuer https://auth.example.com
		path_prefix /auth
		signing_alg EdDSA
		key_rotation 7d
		access_token_ttl 15m
		audience api-a api-b
		client ci {
			name "CI pipeline"
			secret {env.CI_SECRET} expires 2031-01-01T00:00:00Z
			secret_hash sha256:0000000000000000000000000000000000000000000000000000000000000000
			auth_method client_secret_basic
			grant_types client_credentials urn:ietf:params:oauth:grant-type:token-exchange
			scopes read write
			audience api-a
			token_format opaque
			access_token_ttl 5m
			allow_ip 10.0.0.0/8
			allow_ip 192.168.1.1
			deny_ip 10.0.0.1
		}
		client old {
			disabled
		}
	}`)
	var h IssuerHandler
	if err := h.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(&h)
	want := `{"issuer":"https://auth.example.com","path_prefix":"/auth","signing_alg":"EdDSA","key_rotation":604800000000000,` +
		`"access_token_ttl":900000000000,"audience":["api-a","api-b"],"clients":[{"client_id":"ci","name":"CI pipeline",` +
		`"secrets":[{"value":"{env.CI_SECRET}","expires":"2031-01-01T00:00:00Z"},{"hash":"sha256:0000000000000000000000000000000000000000000000000000000000000000"}],` +
		`"auth_methods":["client_secret_basic"],"grant_types":["client_credentials","urn:ietf:params:oauth:grant-type:token-exchange"],` +
		`"scopes":["read","write"],"audience":["api-a"],"token_format":"opaque","access_token_ttl":300000000000,` +
		`"allow_ip":["10.0.0.0/8","192.168.1.1"],"deny_ip":["10.0.0.1"]},{"client_id":"old","disabled":true}]}`
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestIssuerCaddyfileErrors(t *testing.T) {
	wantIssuerCaddyfileErrors(t, map[string]string{
		"no issuer":          `authgate_issuer { path_prefix /x }`,
		"inline arg":         `authgate_issuer https://a { issuer https://a }`,
		"unknown":            "authgate_issuer {\nissuer https://a\nfrobnicate\n}",
		"duplicate issuer":   "authgate_issuer {\nissuer https://a\nissuer https://b\n}",
		"issuer two args":    `authgate_issuer { issuer https://a https://b }`,
		"bad duration":       "authgate_issuer {\nissuer https://a\nkey_rotation soon\n}",
		"dup client":         "authgate_issuer {\nissuer https://a\nclient a {\nsecret x\n}\nclient a {\nsecret y\n}\n}",
		"client no id":       "authgate_issuer {\nissuer https://a\nclient {\nsecret x\n}\n}",
		"client no secret":   "authgate_issuer {\nissuer https://a\nclient a {\nscopes x\n}\n}",
		"client unknown sub": "authgate_issuer {\nissuer https://a\nclient a {\nsecret x\ncolour blue\n}\n}",
		"client dup scopes":  "authgate_issuer {\nissuer https://a\nclient a {\nsecret x\nscopes a\nscopes b\n}\n}",
		"bad expires":        "authgate_issuer {\nissuer https://a\nclient a {\nsecret x expires tomorrow\n}\n}",
		"expires typo":       "authgate_issuer {\nissuer https://a\nclient a {\nsecret x until 2030-01-01T00:00:00Z\n}\n}",
		"bad format":         "authgate_issuer {\nissuer https://a\nclient a {\nsecret x\ntoken_format paseto\n}\n}",
		"disabled arg":       "authgate_issuer {\nissuer https://a\nclient a {\nsecret x\ndisabled yes\n}\n}",
		"empty scopes":       "authgate_issuer {\nissuer https://a\nclient a {\nsecret x\nscopes\n}\n}",
		"bad rate_limit":     "authgate_issuer {\nissuer https://a\nrate_limit 10\n}",
		"rate_limit bounds":  "authgate_issuer {\nissuer https://a\nrate_limit 10/1ms\n}",
		"client rate_limit":  "authgate_issuer {\nissuer https://a\nclient a {\nsecret x\nrate_limit 0/1m\n}\n}",
		"dup rate_limit":     "authgate_issuer {\nissuer https://a\nrate_limit 1/1s\nrate_limit 2/1s\n}",
	})
}

func TestIssuerCaddyfileAdapt(t *testing.T) {
	input := `{
		authgate {
			storage bolt /var/lib/authgate/a.db
		}
	}
	example.com {
		respond hello
		basic_auth /admin/* {
			admin $2a$14$Zkx19XLiW6VYouLHR5NmfOFU0z2GTNmpkT/5qqR7hx4IjWJPDhjvG
		}
		authgate_issuer {
			issuer https://example.com
			client a {
				secret x
			}
		}
	}`
	cfg, _, err := caddyfile.Adapter{ServerType: httpcaddyfile.ServerType{}}.Adapt([]byte(input), nil)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Apps map[string]json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(cfg, &doc); err != nil {
		t.Fatal(err)
	}
	if got := string(doc.Apps["authgate"]); got != `{"storage":{"engine":"bolt","path":"/var/lib/authgate/a.db"}}` {
		t.Fatalf("authgate app: %s", got)
	}
	s := string(doc.Apps["http"])
	iss, basic, respond := strings.Index(s, `"handler":"authgate_issuer"`), strings.Index(s, `"handler":"authentication"`), strings.Index(s, `"handler":"static_response"`)
	if iss < 0 || basic < 0 || respond < 0 || !(iss < basic && basic < respond) {
		t.Fatalf("handler order wrong (issuer %d, basic_auth %d, respond %d): %s", iss, basic, respond, s)
	}
}

func TestAuthgateGlobalOptionErrors(t *testing.T) {
	for _, input := range []string{
		"authgate {\nstorage redis\n}",
		"authgate {\nstorage\n}",
		"authgate {\nstorage bolt a b\n}",
		"authgate {\nstorage bolt\nstorage bolt\n}",
		"authgate {\ncolour blue\n}",
	} {
		if _, err := parseAuthgateGlobal(caddyfile.NewTestDispenser(input), nil); err == nil {
			t.Errorf("%q: no error", input)
		}
	}
	v, err := parseAuthgateGlobal(caddyfile.NewTestDispenser("authgate {\nstorage bolt\n}"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(v.(httpcaddyfile.App).Value); got != `{"storage":{"engine":"bolt"}}` {
		t.Fatal(got)
	}
}

func TestDurationsParse(t *testing.T) {
	var h IssuerHandler
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("authgate_issuer {\nissuer https://a\naccess_token_ttl 2147483647s\n}")); err != nil {
		t.Fatal(err)
	}
	if time.Duration(h.AccessTokenTTL) != 2147483647*time.Second {
		t.Fatal(h.AccessTokenTTL)
	}
	_ = caddy.Duration(0)
}

func TestIssuerRateLimitCaddyfile(t *testing.T) {
	var h IssuerHandler
	in := "authgate_issuer {\nissuer https://a\nrate_limit 100/1h\nclient a {\nsecret x\nrate_limit off\n}\nclient b {\nsecret y\nrate_limit 5/1d\n}\n}"
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)); err != nil {
		t.Fatal(err)
	}
	if h.RateLimit != "100/1h" || h.Clients[0].RateLimit != "off" || h.Clients[1].RateLimit != "5/1d" {
		t.Fatalf("%q %q %q", h.RateLimit, h.Clients[0].RateLimit, h.Clients[1].RateLimit)
	}
}
