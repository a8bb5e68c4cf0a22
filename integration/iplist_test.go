package integration

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/authgate/caddy-authgate/module"
)

// iplCaddyfile: four servers. :9181 trusts 127.0.0.1 as a proxy, so the
// X-Forwarded-For address is the client IP; :9182 trusts only 10.0.0.0/8, so
// for a request from 127.0.0.1 the header is ignored; :9183 and :9185 trust
// 127.0.0.1 and deny from files that the test rewrites: :9183 from one list,
// :9185 from a list the test breaks and a canary whose change shows that a
// poll has gone past the break. Their pollers run side by side.
const iplCaddyfile = `{
	admin localhost:2999
	skip_install_trust
	http_port 9180
	https_port 9189
	servers :9181 {
		trusted_proxies static 127.0.0.1/32
	}
	servers :9182 {
		trusted_proxies static 10.0.0.0/8
	}
	servers :9183 {
		trusted_proxies static 127.0.0.1/32
	}
	servers :9185 {
		trusted_proxies static 127.0.0.1/32
	}
}

http://localhost:9181, http://localhost:9182 {
	@blocked not ip_list {
		deny 203.0.113.0/24
	}
	handle @blocked {
		respond "blocked" 403
	}
	handle {
		respond "ok" 200
	}
}

http://localhost:9183 {
	@office ip_list 192.0.2.0/24 2001:db8::/32
	handle @office {
		respond "office" 200
	}
	@blocked not ip_list {
		deny_file %s
		reload_interval 1s
	}
	handle @blocked {
		respond "blocked" 403
	}
	handle {
		respond "ok" 200
	}
}

http://localhost:9185 {
	@blocked not ip_list {
		deny_file %s %s
		reload_interval 1s
	}
	handle @blocked {
		respond "blocked" 403
	}
	handle {
		respond "ok" 200
	}
}
`

func iplGet(t *testing.T, tester *caddytest.Tester, url, xff string, wantCode int, wantBody string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	tester.AssertResponse(req, wantCode, wantBody)
}

// iplWaitFor polls url until it answers wantCode (the list file is polled
// every second by the server; a change applies on the second poll).
func iplWaitFor(t *testing.T, tester *caddytest.Tester, url, xff string, wantCode int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("X-Forwarded-For", xff)
		resp, err := tester.Client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == wantCode {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s (X-Forwarded-For %s): no %d within 10s (last: %v, %v)", url, xff, wantCode, resp, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func TestIPListThroughCaddy(t *testing.T) {
	t.Parallel() // a child Caddy (admin 127.0.0.1:2906)
	dir := t.TempDir()
	blockFile := filepath.Join(dir, "blocklist.txt")
	old := time.Now().Add(-time.Hour)
	if err := os.WriteFile(blockFile, []byte("# blocked networks\n198.51.100.0/24 # abuse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(blockFile, old, old); err != nil {
		t.Fatal(err)
	}
	brokenFile, canary := filepath.Join(dir, "broken.txt"), filepath.Join(dir, "canary.txt")
	if err := os.WriteFile(brokenFile, []byte("198.51.100.0/24\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(canary, []byte("# nothing yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tester := caddytest.NewTester(t) // its client and assertions only: the config is the child's
	startChildCaddy(t, 2906, fmt.Sprintf(iplCaddyfile, blockFile, brokenFile, canary))

	tests := []struct {
		name     string
		url      string
		xff      string
		wantCode int
		wantBody string
	}{
		{"trusted proxy: forwarded address is denied", "http://localhost:9181/", "203.0.113.7", 403, "blocked"},
		{"trusted proxy: forwarded address, several hops", "http://localhost:9181/", "203.0.113.7, 127.0.0.1", 403, "blocked"},
		{"trusted proxy: other forwarded address", "http://localhost:9181/", "198.51.100.7", 200, "ok"},
		{"trusted proxy: no header, peer address", "http://localhost:9181/", "", 200, "ok"},
		{"untrusted peer: header ignored", "http://localhost:9182/", "203.0.113.7", 200, "ok"},
		{"untrusted peer: no header", "http://localhost:9182/", "", 200, "ok"},
		{"allow list shorthand", "http://localhost:9183/", "192.0.2.10", 200, "office"},
		{"allow list shorthand v6", "http://localhost:9183/", "2001:db8::10", 200, "office"},
		{"deny file", "http://localhost:9183/", "198.51.100.7", 403, "blocked"},
		{"deny file, other address", "http://localhost:9183/", "203.0.113.7", 200, "ok"},
		{"second deny file", "http://localhost:9185/", "198.51.100.7", 403, "blocked"},
		{"second deny file, other address", "http://localhost:9185/", "203.0.113.7", 200, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iplGet(t, tester, tt.url, tt.xff, tt.wantCode, tt.wantBody)
		})
	}

	// Rewrite :9183's deny file: the running server picks it up without a
	// reload. Break :9185's at the same time: it keeps the previous list.
	if err := os.WriteFile(blockFile, []byte("203.0.113.0/24\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(blockFile, old.Add(time.Second), old.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(brokenFile, []byte("203.0.113.0/24\n10.0.0.300\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Written after the broken file, the canary is taken by the same poll
	// as the broken file or a later one: once it blocks, the broken file
	// has been read, refused and reported.
	if err := os.WriteFile(canary, []byte("198.18.0.1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	iplWaitFor(t, tester, "http://localhost:9183/", "203.0.113.7", 403)
	iplGet(t, tester, "http://localhost:9183/", "198.51.100.7", 200, "ok")
	iplWaitFor(t, tester, "http://localhost:9185/", "198.18.0.1", 403)
	iplGet(t, tester, "http://localhost:9185/", "198.51.100.7", 403, "blocked")
	iplGet(t, tester, "http://localhost:9185/", "203.0.113.7", 200, "ok")
}

func TestIPListCaddyfileErrors(t *testing.T) {
	useInProcessCaddy(t)
	for _, tt := range []struct {
		name, site, want string // want is matched against the admin API's JSON error
	}{
		{"bad entry names file and line", "@x ip_list 10.0.0.300\nrespond @x 200", `ip_list: \"10.0.0.300\": not an IP address, at Caddyfile:7`},
		{"unknown subdirective", "@x ip_list {\n\t\tblock 10.0.0.1\n\t}\n\trespond @x 200", `ip_list: unknown subdirective \"block\", at Caddyfile:8`},
		{"reload_interval 1ns", "@x ip_list {\n\t\tdeny 10.0.0.1\n\t\treload_interval 1ns\n\t}\n\trespond @x 200", `ip_list: reload_interval 1ns is out of range: must be between 1s and 24h, at Caddyfile:9`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			caddytest.AssertLoadError(t, "{\n\tadmin localhost:2999\n\tskip_install_trust\n\thttp_port 9180\n}\nhttp://localhost:9184 {\n\t"+tt.site+"\n}\n", "caddyfile", tt.want)
		})
	}
}
