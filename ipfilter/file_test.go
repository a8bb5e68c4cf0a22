package ipfilter

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestParseList(t *testing.T) {
	data := "\xef\xbb\xbf# blocklist\n" +
		"\n" +
		"192.0.2.55   # a single host\r\n" +
		"   192.0.2.60-192.0.2.61\n" +
		"#198.51.100.0/24 commented out\n" +
		"2001:db8:1234::/48#no space before comment\n" +
		"\t\n" +
		"::ffff:10.0.0.1" // no trailing newline
	got, err := ParseList("list.txt", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"192.0.2.55", "192.0.2.60-192.0.2.61", "2001:db8:1234::-2001:db8:1234:ffff:ffff:ffff:ffff:ffff", "10.0.0.1"}
	if len(got) != len(want) {
		t.Fatalf("got %d ranges %v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("range %d = %v, want %s", i, got[i], want[i])
		}
	}
}

func TestParseListErrors(t *testing.T) {
	tests := []struct {
		data string
		want string
	}{
		{"10.0.0.1\n\n# c\n10.0.0.300\n", `blocklist.txt:4: "10.0.0.300": not an IP address`},
		{"10.0.0.9-10.0.0.1", `blocklist.txt:1: "10.0.0.9-10.0.0.1": range start after end`},
		{"# a\r\n10.0.0.0/33 # too long\r\n", `blocklist.txt:2: "10.0.0.0/33": prefix length`},
		{"\n\n10.0.0.1-2001:db8::1", `blocklist.txt:3: "10.0.0.1-2001:db8::1": range mixes IPv4 and IPv6`},
		{"fe80::1%eth0 # zoned", `blocklist.txt:1: "fe80::1%eth0": zone not allowed`},
	}
	for _, tt := range tests {
		_, err := ParseList("blocklist.txt", []byte(tt.data))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("ParseList(%q) error = %v, want %q", tt.data, err, tt.want)
		}
		var ee *EntryError
		if !errors.As(err, &ee) {
			t.Errorf("error %v does not wrap *EntryError", err)
		}
	}
}

func TestReadListFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "allow.txt")
	if err := os.WriteFile(p, []byte("10.0.0.0/8\n::1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rs, err := ReadListFile(p)
	if err != nil || len(rs) != 2 || !rs[0].Contains(netip.MustParseAddr("10.2.3.4")) {
		t.Fatalf("ReadListFile = %v, %v", rs, err)
	}
	if _, err := ReadListFile(filepath.Join(dir, "missing.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file error = %v", err)
	}
	if err := os.WriteFile(p, []byte("10.0.0.0/8\nbogus\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadListFile(p); err == nil || !strings.HasPrefix(err.Error(), p+`:2: "bogus": not an IP address`) {
		t.Fatalf("bad file error = %v", err)
	}
}

// Memory is proportional to the entries, not to the lines: blank and comment
// lines cost nothing. (Capacity was once taken from the line count, so a file
// of newlines allocated a rule per byte.)
func TestParseListMemoryFollowsEntries(t *testing.T) {
	data := bytes.Repeat([]byte("# comment\n\n"), 100_000) // ~1 MiB, 200 000 lines, no entry
	data = append(data, "10.0.0.1\n"...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rules, err := parseList("list.txt", data, true)
	runtime.ReadMemStats(&after)
	if err != nil || len(rules) != 1 {
		t.Fatalf("rules = %d, err = %v", len(rules), err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 2<<20 {
		t.Errorf("parsing one entry among 200 000 comment and blank lines allocated %d MiB", n>>20)
	}
}
