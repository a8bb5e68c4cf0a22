package module

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

func TestStorageRedisCaddyfile(t *testing.T) {
	for in, want := range map[string]string{
		"storage redis redis://127.0.0.1:6379/0":                                                           `{"storage":{"engine":"redis","urls":["redis://127.0.0.1:6379/0"]}}`,
		"storage redis redis://a:1 redis://b:2 {\nprefix ag:\ntls\noutage_grace 10s\n}":                    `{"storage":{"engine":"redis","outage_grace":10000000000,"prefix":"ag:","tls":true,"urls":["redis://a:1","redis://b:2"]}}`,
		"storage redis redis://a:1 {\ntimeout 500ms\n}":                                                    `{"storage":{"engine":"redis","timeout":500000000,"urls":["redis://a:1"]}}`,
		"storage redis redis://a:1 {\nusername {env.U}\npassword {env.P}\ncluster\n}":                      `{"storage":{"cluster":true,"engine":"redis","password":"{env.P}","urls":["redis://a:1"],"username":"{env.U}"}}`,
		"storage redis sentinel mymaster 10.0.0.1:26379 10.0.0.2:26379 {\ndb 2\n}":                         `{"storage":{"db":2,"engine":"redis","sentinel_addrs":["10.0.0.1:26379","10.0.0.2:26379"],"sentinel_master":"mymaster"}}`,
		"encryption_key {env.KEK}\nprevious_encryption_key {env.OLD}\nprevious_encryption_key {env.OLDER}": `{"encryption_key":"{env.KEK}","previous_encryption_keys":["{env.OLD}","{env.OLDER}"]}`,
	} {
		v, err := parseAuthgateGlobal(caddyfile.NewTestDispenser("authgate {\n"+in+"\n}"), nil)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if got := string(v.(httpcaddyfile.App).Value); got != want {
			t.Errorf("%q:\n got %s\nwant %s", in, got, want)
		}
	}
	for in, msg := range map[string]string{
		"storage redis":                                          "wrong argument count",
		"storage redis 127.0.0.1:6379":                           "want redis://",
		"storage redis sentinel mymaster":                        "sentinel needs",
		"storage redis redis://a:1 {\nprefix a{b}\n}":            "braces",
		"storage redis redis://a:1 {\nprefix a\nprefix b\n}":     "duplicate subdirective",
		"storage redis redis://a:1 {\nnope\n}":                   "unknown subdirective",
		"storage redis redis://a:1 {\ntls x\n}":                  "wrong argument count",
		"storage redis redis://a:1 {\ndb 1\n}":                   "db is for sentinel",
		"storage redis sentinel m a:1 {\ndb x\n}":                "want a database number",
		"storage redis redis://a:1 {\noutage_grace soon\n}":      "invalid duration",
		"storage redis redis://a:1 {\ntimeout 0s\n}":             "want a positive duration",
		"storage redis redis://a:1 {\ntimeout -1s\n}":            "want a positive duration",
		"storage redis redis://a:1 {\ntimeout 1s 2s\n}":          "wrong argument count",
		"storage redis redis://a:1 {\ntimeout\n}":                "wrong argument count",
		"storage redis redis://a:1 {\ntimeout 5\n}":              "missing unit",
		"storage redis redis://a:1 {\ntimeout 9999999999h\n}":    "invalid duration",
		"storage redis redis://a:1 {\ntimeout 1s\ntimeout 2s\n}": "duplicate subdirective",
		"encryption_key a\nencryption_key b":                     "duplicate subdirective",
		"encryption_key":                                         "wrong argument count",
	} {
		_, err := parseAuthgateGlobal(caddyfile.NewTestDispenser("authgate {\n"+in+"\n}"), nil)
		if err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), "Testfile:") {
			t.Errorf("%q: err = %v, want %q with file:line", in, err, msg)
		}
	}
}

func TestStorageRedisProvision(t *testing.T) {
	t.Setenv("AG_TEST_REDIS_PW", "s3cret")
	app, err := provisionApp(t, `{"storage":{"engine":"redis","urls":["rediss://u:inurl@10.1.2.3:6380/3"],"password":"{env.AG_TEST_REDIS_PW}"}}`)
	if err != nil {
		t.Fatal(err)
	}
	r := app.storage.(*RedisStorage)
	if o := r.opts; o.Addrs[0] != "10.1.2.3:6380" || o.DB != 3 || o.Username != "u" || o.Password != "s3cret" || o.TLS == nil || o.Prefix != "authgate:" {
		t.Fatalf("options = %+v", o)
	}
	if k := r.StorageKey(); strings.Contains(k, "s3cret") || strings.Contains(k, "inurl") {
		t.Fatalf("storage key holds a password: %s", k)
	}
	// timeout is the engine's bound of one call, and part of its key.
	timed, err := provisionApp(t, `{"storage":{"engine":"redis","urls":["rediss://u:inurl@10.1.2.3:6380/3"],"password":"{env.AG_TEST_REDIS_PW}","timeout":"300ms"}}`)
	if err != nil {
		t.Fatal(err)
	}
	if tr := timed.storage.(*RedisStorage); tr.opts.OpTimeout != 300*time.Millisecond || tr.StorageKey() == r.StorageKey() {
		t.Fatalf("timeout 300ms: OpTimeout %s, storage key %s", tr.opts.OpTimeout, tr.StorageKey())
	}
	for cfg, msg := range map[string]string{
		`{"storage":{"engine":"redis"}}`:                                                                       "no URL",
		`{"storage":{"engine":"redis","urls":["http://x"]}}`:                                                   "URL 1",
		`{"storage":{"engine":"redis","urls":["redis://a:1/1","redis://b:1"]}}`:                                "only database 0",
		`{"storage":{"engine":"redis","urls":["redis://a:1"],"sentinel_master":"m","sentinel_addrs":["a:1"]}}`: "not both",
		`{"storage":{"engine":"redis","sentinel_master":"m"}}`:                                                 "at least one address",
		`{"storage":{"engine":"redis","sentinel_master":"m","sentinel_addrs":["nohost"]}}`:                     "host:port",
		`{"storage":{"engine":"redis","urls":["redis://a:1"],"password":"{env.AG_TEST_UNSET_VAR}"}}`:           "password",
		`{"storage":{"engine":"redis","urls":["redis://a:1"],"timeout":-1}}`:                                   "want a positive duration",
		`{"encryption_key":"short"}`:                                                                           "encryption_key",
		`{"previous_encryption_keys":["AAAA"]}`:                                                                "needs an encryption_key",
		`{"encryption_key":"{env.AG_TEST_UNSET_VAR}"}`:                                                         "encryption_key",
	} {
		if _, err := provisionApp(t, cfg); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: err = %v, want %q", cfg, err, msg)
		}
	}
	// A URL's password never reaches an error message.
	if _, err := provisionApp(t, `{"storage":{"engine":"redis","urls":["redis://u:topsecret@a:b:c"]}}`); err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Errorf("bad URL: %v", err)
	}
}
