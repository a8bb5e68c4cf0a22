package authgate

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// xcaddyManifest mirrors the fields of xcaddy's Builder that xcaddy.json uses.
type xcaddyManifest struct {
	CaddyVersion string `json:"caddy_version"`
	Plugins      []struct {
		ModulePath string `json:"module_path"`
		Version    string `json:"version,omitempty"`
	} `json:"plugins"`
	Replacements []struct {
		Old string `json:"old"`
		New string `json:"new"`
	} `json:"replacements"`
}

// TestXcaddyManifestMatchesGoMod fails when xcaddy.json would build another
// Caddy than the one go.mod (and so the tests) use.
func TestXcaddyManifestMatchesGoMod(t *testing.T) {
	data, err := os.ReadFile("xcaddy.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m xcaddyManifest
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("xcaddy.json: %v", err)
	}
	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	match := regexp.MustCompile(`(?m)^\s*github\.com/caddyserver/caddy/v2 (v\S+)`).FindSubmatch(gomod)
	if match == nil {
		t.Fatal("go.mod does not require github.com/caddyserver/caddy/v2")
	}
	if m.CaddyVersion != string(match[1]) {
		t.Fatalf("xcaddy.json caddy_version %s, go.mod has %s", m.CaddyVersion, match[1])
	}
	modulePath := strings.Fields(strings.SplitN(string(gomod), "\n", 2)[0])[1]
	if len(m.Plugins) != 1 || m.Plugins[0].ModulePath != modulePath {
		t.Fatalf("xcaddy.json plugins = %+v, want %s", m.Plugins, modulePath)
	}
	if len(m.Replacements) != 1 || m.Replacements[0].Old != modulePath || m.Replacements[0].New != "." {
		t.Fatalf("xcaddy.json replacements = %+v, want %s => .", m.Replacements, modulePath)
	}
	main, err := os.ReadFile("cmd/caddy/main.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(main, []byte(`_ "`+modulePath+`"`)) || !bytes.Contains(main, []byte(`caddycmd.Main()`)) {
		t.Fatal("cmd/caddy/main.go is not the xcaddy-generated main for this module")
	}
}
