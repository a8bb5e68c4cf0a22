package module

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestCaddyfileGolden adapts every testdata/golden/*.caddyfile (and the
// repository's Caddyfile.example) to JSON and compares it with the .json
// file beside it. Run `go test ./module -run Golden -update` after an
// intended change, and review the diff.
func TestCaddyfileGolden(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/golden/*.caddyfile")
	inputs = append(inputs, "../Caddyfile.example")
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".caddyfile")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got := adapt(t, in, src)
			golden := strings.TrimSuffix(in, ".caddyfile") + ".json"
			if name == "Caddyfile.example" {
				golden = "testdata/golden/Caddyfile.example.json"
			}
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("adapted JSON differs from %s:\n%s", golden, got)
			}
		})
	}
}

func adapt(t *testing.T, filename string, src []byte) []byte {
	t.Helper()
	adapter := caddyconfig.GetAdapter("caddyfile")
	out, warnings, err := adapter.Adapt(src, map[string]any{"filename": filename})
	if err != nil {
		t.Fatalf("adapt: %v", err)
	}
	for _, w := range warnings {
		t.Errorf("warning: %s:%d: %s", w.File, w.Line, w.Message)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, out, "", "\t"); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	return pretty.Bytes()
}
