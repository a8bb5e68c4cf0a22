package module

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func TestMatchIPListUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  MatchIPList
	}{
		{
			name:  "shorthand",
			input: `ip_list 192.0.2.55 192.0.2.55-192.0.2.61 192.0.2.0/24 2001:db8::1 2001:db8::1-2001:db8::ff 2001:db8:1234::/48`,
			want: MatchIPList{Allow: []string{"192.0.2.55", "192.0.2.55-192.0.2.61", "192.0.2.0/24",
				"2001:db8::1", "2001:db8::1-2001:db8::ff", "2001:db8:1234::/48"}},
		},
		{
			name: "block",
			input: `ip_list {
				allow 10.0.0.0/8 192.0.2.1
				allow 2001:db8::/32
				deny 10.6.6.6
				allow_file /etc/allow.txt
				deny_file /etc/block1.txt /etc/block2.txt
				deny_file /etc/block3.txt
				reload_interval 30s
			}`,
			want: MatchIPList{
				Allow:          []string{"10.0.0.0/8", "192.0.2.1", "2001:db8::/32"},
				Deny:           []string{"10.6.6.6"},
				AllowFiles:     []string{"/etc/allow.txt"},
				DenyFiles:      []string{"/etc/block1.txt", "/etc/block2.txt", "/etc/block3.txt"},
				ReloadInterval: caddy.Duration(30 * time.Second),
			},
		},
		{
			name:  "inline entries plus block",
			input: "ip_list 192.0.2.0/24 {\n deny 192.0.2.7\n}",
			want:  MatchIPList{Allow: []string{"192.0.2.0/24"}, Deny: []string{"192.0.2.7"}},
		},
		{
			name:  "deny only",
			input: "ip_list {\n deny 203.0.113.0/24\n}",
			want:  MatchIPList{Deny: []string{"203.0.113.0/24"}},
		},
		{
			name:  "file only",
			input: "ip_list {\n deny_file blocklist.txt\n}",
			want:  MatchIPList{DenyFiles: []string{"blocklist.txt"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m MatchIPList
			if err := m.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input)); err != nil {
				t.Fatalf("UnmarshalCaddyfile: %v", err)
			}
			if !reflect.DeepEqual(m, tt.want) {
				t.Fatalf("got %+v\nwant %+v", m, tt.want)
			}
		})
	}
}

func TestMatchIPListUnmarshalCaddyfileErrors(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string // substring of the error
		line  int    // the Caddyfile line the error must name (0: not checked)
	}{
		{"bad entry", `ip_list 10.0.0.300`, `ip_list: "10.0.0.300": not an IP address`, 1},
		{"bad range", "ip_list {\n deny 10.0.0.9-10.0.0.1\n}", `ip_list: "10.0.0.9-10.0.0.1": range start after end`, 2},
		{"bad prefix", "ip_list {\n\n allow 10.0.0.0/33\n}", `ip_list: "10.0.0.0/33": prefix length`, 3},
		{"zone", `ip_list fe80::1%eth0`, `"fe80::1%eth0": zone not allowed`, 0},
		{"mixed range", `ip_list 10.0.0.1-2001:db8::1`, `range mixes IPv4 and IPv6`, 0},
		{"unknown subdirective", "ip_list {\n allow 10.0.0.1\n block 10.0.0.2\n}", `ip_list: unknown subdirective "block"`, 3},
		{"empty", `ip_list`, `needs at least one entry or file`, 0},
		{"empty block", "ip_list {\n}", `needs at least one entry or file`, 0},
		{"allow without args", "ip_list {\n allow\n}", `wrong argument count`, 2},
		{"deny without args", "ip_list {\n deny\n}", `wrong argument count`, 2},
		{"deny_file without args", "ip_list {\n deny_file\n}", `wrong argument count`, 0},
		{"allow_file without args", "ip_list {\n allow_file\n}", `wrong argument count`, 0},
		{"reload_interval without args", "ip_list {\n deny 10.0.0.1\n reload_interval\n}", `wrong argument count`, 3},
		{"reload_interval two args", "ip_list {\n deny 10.0.0.1\n reload_interval 5s 6s\n}", `wrong argument count`, 0},
		{"reload_interval bad", "ip_list {\n deny 10.0.0.1\n reload_interval soon\n}", `reload_interval "soon"`, 0},
		{"reload_interval zero", "ip_list {\n deny 10.0.0.1\n reload_interval 0s\n}", `must be positive`, 0},
		{"reload_interval too short", "ip_list {\n deny 10.0.0.1\n\n reload_interval 1ns\n}", `ip_list: reload_interval 1ns is out of range: must be between 1s and 24h`, 4},
		{"reload_interval too long", "ip_list {\n deny 10.0.0.1\n reload_interval 25h\n}", `reload_interval 25h is out of range`, 3},
		{"reload_interval negative", "ip_list {\n deny 10.0.0.1\n reload_interval -5s\n}", `reload_interval -5s is out of range`, 3},
		{"reload_interval twice", "ip_list {\n deny 10.0.0.1\n reload_interval 5s\n reload_interval 6s\n}", `ip_list: reload_interval specified more than once`, 4},
		{"second ip_list", "ip_list 10.0.0.1\nip_list 10.0.0.2", `ip_list: specified more than once`, 2},
		{"second ip_list after block", "ip_list {\n deny 10.0.0.1\n}\nip_list 10.0.0.2", `ip_list: specified more than once`, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m MatchIPList
			err := m.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
			if loc := "Testfile:" + strconv.Itoa(tt.line); tt.line != 0 && !strings.Contains(err.Error(), loc) {
				t.Fatalf("error = %v, want it to name %s", err, loc)
			}
		})
	}
}

// iplTestContext returns a caddy.Context for provisioning, cancelled at the
// end of the test.
func iplTestContext(t testing.TB) caddy.Context {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	return ctx
}

// iplRequest builds a request as Caddy's server would hand it to a matcher:
// with the vars map carrying the resolved client IP (unless clientIP is
// "-", which leaves the variable unset).
func iplRequest(clientIP, remoteAddr string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://example.com/", nil)
	r.RemoteAddr = remoteAddr
	vars := map[string]any{}
	if clientIP != "-" {
		vars[caddyhttp.ClientIPVarKey] = clientIP
	}
	repl := caddyhttp.NewTestReplacer(r)
	ctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl)
	ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, vars)
	return r.WithContext(ctx)
}

func TestMatchIPListMatch(t *testing.T) {
	dir := t.TempDir()
	blockFile := filepath.Join(dir, "blocklist.txt")
	if err := os.WriteFile(blockFile, []byte("# known bad\n198.51.100.0/24\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	allowList := &MatchIPList{Allow: []string{"192.0.2.0/24", "2001:db8::/32"}, Deny: []string{"192.0.2.66"}}
	denyList := &MatchIPList{Deny: []string{"203.0.113.0/24"}, DenyFiles: []string{blockFile}}
	for _, m := range []*MatchIPList{allowList, denyList} {
		if err := m.Provision(iplTestContext(t)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name       string
		m          *MatchIPList
		clientIP   string // the client_ip var; "-" = unset
		remoteAddr string
		want       bool
	}{
		{"allow list hit", allowList, "192.0.2.7", "10.0.0.1:1234", true},
		{"allow list miss", allowList, "192.0.3.7", "192.0.2.7:1234", false}, // var wins over RemoteAddr
		{"deny wins", allowList, "192.0.2.66", "10.0.0.1:1234", false},
		{"v6 hit", allowList, "2001:db8::5", "[::1]:1234", true},
		{"v6 miss", allowList, "2001:db9::5", "[::1]:1234", false},
		{"mapped client", allowList, "::ffff:192.0.2.7", "[::1]:1234", true},
		{"zoned client", allowList, "2001:db8::1%eth0", "[::1]:1", true},
		{"fallback to RemoteAddr", allowList, "-", "192.0.2.9:5555", true},
		{"fallback to RemoteAddr miss", allowList, "-", "10.0.0.9:5555", false},
		{"fallback to bracketed v6 RemoteAddr", allowList, "-", "[2001:db8::9]:5555", true},
		{"unparseable client ip fails closed", allowList, "not-an-ip", "192.0.2.9:5555", false},
		{"unparseable client ip fails closed for deny-only", denyList, "not-an-ip", "10.0.0.1:1", false},
		{"deny-only list, other address", denyList, "10.1.2.3", "10.1.2.3:1", true},
		{"deny-only list, denied inline", denyList, "203.0.113.7", "10.1.2.3:1", false},
		{"deny-only list, denied by file", denyList, "198.51.100.9", "10.1.2.3:1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := iplRequest(tt.clientIP, tt.remoteAddr)
			got, err := tt.m.MatchWithError(r)
			if err != nil {
				t.Fatalf("MatchWithError: %v", err)
			}
			if got != tt.want {
				t.Fatalf("MatchWithError = %v, want %v", got, tt.want)
			}
			if got := tt.m.Match(r); got != tt.want {
				t.Fatalf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMatchIPListTooEarly(t *testing.T) {
	m := &MatchIPList{Allow: []string{"192.0.2.0/24"}}
	if err := m.Provision(iplTestContext(t)); err != nil {
		t.Fatal(err)
	}
	r := iplRequest("192.0.2.1", "192.0.2.1:1")
	r.TLS = &tls.ConnectionState{HandshakeComplete: false}
	ok, err := m.MatchWithError(r)
	var he caddyhttp.HandlerError
	if ok || !errors.As(err, &he) || he.StatusCode != http.StatusTooEarly {
		t.Fatalf("0-RTT request: %v, %v; want false and a 425 error", ok, err)
	}
}

func TestMatchIPListProvisionErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "blocklist.txt")
	if err := os.WriteFile(bad, []byte("10.0.0.1\n\n10.0.0.300 # typo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		m    MatchIPList
		want string
	}{
		{"bad file", MatchIPList{DenyFiles: []string{bad}}, bad + `:3: "10.0.0.300": not an IP address`},
		{"missing file", MatchIPList{AllowFiles: []string{filepath.Join(dir, "nope.txt")}}, "nope.txt"},
		{"bad inline entry (JSON config)", MatchIPList{Deny: []string{"10.0.0.0/33"}}, `"10.0.0.0/33": prefix length`},
		{"empty", MatchIPList{}, "no entries or files configured"},
		{"negative interval", MatchIPList{Deny: []string{"10.0.0.1"}, ReloadInterval: -1}, "must not be negative"},
		// JSON durations are nanoseconds: "reload_interval": 5 is 5ns.
		{"interval too short (JSON)", MatchIPList{Deny: []string{"10.0.0.1"}, ReloadInterval: 5}, "reload_interval 5ns is out of range: must be between 1s and 24h"},
		{"interval too long (JSON)", MatchIPList{Deny: []string{"10.0.0.1"}, ReloadInterval: caddy.Duration(48 * time.Hour)}, "reload_interval 48h is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.m.Provision(iplTestContext(t))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Provision error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestMatchIPListReload checks that Provision starts the file watcher with
// the configured interval, that a change applies on the second poll that
// sees it (never the first), and that the watcher stops with the context.
// The watcher's ticker runs on synctest's fake clock: no wall-clock waits.
func TestMatchIPListReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(dir, "blocklist.txt")
		old := time.Now().Add(-time.Hour)
		write := func(content string, mtime time.Time) {
			t.Helper()
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, mtime, mtime); err != nil {
				t.Fatal(err)
			}
		}
		const every = 30 * time.Second
		write("203.0.113.0/24\n", old)
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		m := &MatchIPList{DenyFiles: []string{p}, ReloadInterval: caddy.Duration(every)}
		if err := m.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		if m.Match(iplRequest("203.0.113.7", "")) {
			t.Fatal("denied address matched before reload")
		}
		// Ticks fall at every, 2*every, ...; each change is written between two.
		time.Sleep(every / 2)
		write("198.51.100.0/24\n", old.Add(time.Second))
		time.Sleep(every)
		synctest.Wait()
		if !m.Match(iplRequest("198.51.100.7", "")) {
			t.Fatal("the first poll that saw the change applied it")
		}
		time.Sleep(every)
		synctest.Wait()
		if !m.Match(iplRequest("203.0.113.7", "")) || m.Match(iplRequest("198.51.100.7", "")) {
			t.Fatal("changed file not in effect after two polls")
		}
		// a broken file keeps the previous list
		write("198.51.100.0/24\nbogus\n", old.Add(2*time.Second))
		time.Sleep(2 * every)
		synctest.Wait()
		if m.Match(iplRequest("198.51.100.7", "")) || !m.Match(iplRequest("203.0.113.7", "")) {
			t.Fatal("broken file changed the list")
		}
		// After the config is unloaded, nothing is polled any more.
		cancel()
		synctest.Wait()
		write("192.0.2.0/24\n", old.Add(3*time.Second))
		time.Sleep(3 * every)
		synctest.Wait()
		if !m.Match(iplRequest("192.0.2.7", "")) {
			t.Fatal("list reloaded after the context was cancelled")
		}
	})
}

func TestMatchIPListModule(t *testing.T) {
	mod, err := caddy.GetModule("http.matchers.ip_list")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := mod.New().(*MatchIPList); !ok {
		t.Fatalf("module New returned %T", mod.New())
	}
}
