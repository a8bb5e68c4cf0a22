package ipfilter

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var ip = netip.MustParseAddr

// writeList writes content to path and moves its mtime forward so that a
// change is visible even on filesystems with coarse timestamps.
func writeList(t *testing.T, path, content string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func TestListsEmpty(t *testing.T) {
	if !(Lists{}).Empty() {
		t.Error("zero Lists not empty")
	}
	for _, l := range []Lists{{Allow: []string{"x"}}, {Deny: []string{"x"}}, {AllowFiles: []string{"x"}}, {DenyFiles: []string{"x"}}} {
		if l.Empty() {
			t.Errorf("%+v reported empty", l)
		}
	}
}

func TestNewDynamic(t *testing.T) {
	dir := t.TempDir()
	allowPath := filepath.Join(dir, "allow.txt")
	denyPath := filepath.Join(dir, "blocklist.txt")
	writeList(t, allowPath, "# office\n10.0.0.0/8\n2001:db8::/32 # v6 office\n", time.Now())
	writeList(t, denyPath, "\n10.6.6.0/24\n", time.Now())
	d, err := NewDynamic(Lists{
		Allow:      []string{"192.0.2.1"},
		Deny:       []string{"10.0.0.66"},
		AllowFiles: []string{allowPath},
		DenyFiles:  []string{denyPath},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		addr string
		ok   bool
		rule string
	}{
		{"192.0.2.1", true, `allow "192.0.2.1"`},
		{"10.1.1.1", true, `allow_file ` + allowPath + `:2 "10.0.0.0/8"`},
		{"2001:db8::9", true, `allow_file ` + allowPath + `:3 "2001:db8::/32"`},
		{"10.0.0.66", false, `deny "10.0.0.66"`},
		{"10.6.6.6", false, `deny_file ` + denyPath + `:2 "10.6.6.0/24"`},
		{"192.0.2.2", false, "not in allow list"},
	} {
		if got := d.Allowed(ip(tt.addr)); got != tt.ok {
			t.Errorf("Allowed(%s) = %v, want %v", tt.addr, got, tt.ok)
		}
		if ok, rule := d.Explain(ip(tt.addr)); ok != tt.ok || rule != tt.rule {
			t.Errorf("Explain(%s) = %v, %q; want %v, %q", tt.addr, ok, rule, tt.ok, tt.rule)
		}
	}
	if a, dn := d.Len(); a != 3 || dn != 2 {
		t.Errorf("Len = %d, %d; want 3, 2", a, dn)
	}
}

func TestNewDynamicErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "blocklist.txt")
	writeList(t, bad, "10.0.0.1\n# comment\n\n10.0.0.300\n", time.Now())
	tests := []struct {
		lists Lists
		want  string
	}{
		{Lists{DenyFiles: []string{bad}}, bad + `:4: "10.0.0.300": not an IP address`},
		{Lists{AllowFiles: []string{bad}}, bad + `:4: "10.0.0.300": not an IP address`},
		{Lists{Allow: []string{"10.0.0.9-10.0.0.1"}}, `"10.0.0.9-10.0.0.1": range start after end`},
		{Lists{Deny: []string{" "}}, `"": empty entry`},
		{Lists{DenyFiles: []string{filepath.Join(dir, "missing.txt")}}, "stat " + filepath.Join(dir, "missing.txt")},
	}
	for _, tt := range tests {
		_, err := NewDynamic(tt.lists)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("NewDynamic(%+v) error = %v, want prefix %q", tt.lists, err, tt.want)
		}
	}
}

func TestDynamicEmptyAllowFileFailsClosed(t *testing.T) {
	p := filepath.Join(t.TempDir(), "allow.txt")
	writeList(t, p, "# nobody yet\n", time.Now())
	d, err := NewDynamic(Lists{AllowFiles: []string{p}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed(ip("10.0.0.1")) {
		t.Error("an empty allow file allowed an address")
	}
}

func TestNilDynamic(t *testing.T) {
	var d *Dynamic
	if !d.Allowed(ip("10.0.0.1")) {
		t.Error("nil Dynamic refused")
	}
	if ok, _ := d.Explain(ip("10.0.0.1")); !ok {
		t.Error("nil Dynamic Explain refused")
	}
	d.Watch(context.Background(), time.Millisecond, nil) // must not panic
	if d.Poll(nil) {
		t.Error("nil Dynamic Poll reported a change")
	}
}

func TestDynamicPoll(t *testing.T) {
	t0 := time.Now().Add(-time.Hour)
	d, p := denyFileDynamic(t, "10.0.0.1\n", t0)
	type ev struct {
		path string
		err  string
	}
	var events []ev
	report := func(path string, err error) {
		e := ev{path: path}
		if err != nil {
			e.err = err.Error()
		}
		events = append(events, e)
	}
	steps := []struct {
		name    string
		content string // "" = remove the file
		mtime   time.Time
		changed bool
		events  []ev
		denied  []string
		allowed []string
	}{
		{"unchanged", "10.0.0.1\n", t0, false, nil, []string{"10.0.0.1"}, []string{"10.0.0.2"}},
		{"changed", "10.0.0.2\n", t0.Add(time.Second), true, []ev{{p, ""}}, []string{"10.0.0.2"}, []string{"10.0.0.1"}},
		{"same mtime, new size", "10.0.0.3\n10.0.0.4\n", t0.Add(time.Second), true, []ev{{p, ""}}, []string{"10.0.0.3", "10.0.0.4"}, []string{"10.0.0.2"}},
		{"broken keeps old list", "10.0.0.5\nnope\n", t0.Add(2 * time.Second), false, []ev{{p, p + `:2: "nope": not an IP address`}}, []string{"10.0.0.3", "10.0.0.4"}, []string{"10.0.0.5"}},
		{"broken reported once", "10.0.0.5\nnope\n", t0.Add(2 * time.Second), false, nil, []string{"10.0.0.3"}, []string{"10.0.0.5"}},
		{"fixed", "10.0.0.5 # fixed\n", t0.Add(3 * time.Second), true, []ev{{p, ""}}, []string{"10.0.0.5"}, []string{"10.0.0.3"}},
		{"removed keeps old list", "", time.Time{}, false, []ev{{p, "stat " + p}}, []string{"10.0.0.5"}, []string{"10.0.0.3"}},
		{"removed reported once", "", time.Time{}, false, nil, []string{"10.0.0.5"}, nil},
		{"back again", "10.0.0.7\n", t0.Add(3 * time.Second), true, []ev{{p, ""}}, []string{"10.0.0.7"}, []string{"10.0.0.5"}},
	}
	for _, s := range steps {
		events = nil
		if s.content == "" {
			os.Remove(p)
		} else {
			writeList(t, p, s.content, s.mtime)
		}
		// A new version is taken by the second poll that sees it, never
		// by the first (the writer may not be done).
		if d.Poll(report) {
			t.Errorf("%s: the first Poll that saw the change swapped it in", s.name)
		}
		if changed := d.Poll(report); changed != s.changed {
			t.Errorf("%s: second Poll changed = %v, want %v", s.name, changed, s.changed)
		}
		if len(events) != len(s.events) {
			t.Errorf("%s: events %v, want %v", s.name, events, s.events)
		} else {
			for i := range events {
				if events[i].path != s.events[i].path || !strings.HasPrefix(events[i].err, s.events[i].err) || (events[i].err == "") != (s.events[i].err == "") {
					t.Errorf("%s: event %d = %+v, want %+v", s.name, i, events[i], s.events[i])
				}
			}
		}
		for _, a := range s.denied {
			if d.Allowed(ip(a)) {
				t.Errorf("%s: %s allowed, want denied", s.name, a)
			}
		}
		for _, a := range s.allowed {
			if !d.Allowed(ip(a)) {
				t.Errorf("%s: %s denied, want allowed", s.name, a)
			}
		}
	}
}

func TestDynamicWatch(t *testing.T) {
	t0 := time.Now().Add(-time.Hour)
	d, p := denyFileDynamic(t, "203.0.113.0/24\n", t0)
	type ev struct {
		path string
		err  error
	}
	events := make(chan ev, 16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.Watch(ctx, 5*time.Millisecond, func(path string, err error) { events <- ev{path, err} })
	d.Watch(ctx, 5*time.Millisecond, func(path string, err error) { t.Error("second Watch started a poller") })

	next := func() ev {
		t.Helper()
		select {
		case e := <-events:
			return e
		case <-time.After(5 * time.Second):
			t.Fatal("no report from Watch within 5s")
		}
		return ev{}
	}

	// Concurrent readers while the list is swapped (run with -race).
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					d.Allowed(ip("203.0.113.7"))
					d.Explain(ip("198.51.100.7"))
				}
			}
		}()
	}

	writeList(t, p, "198.51.100.0/24\n", t0.Add(time.Second))
	if e := next(); e.path != p || e.err != nil {
		t.Fatalf("report = %v, %v; want %s, nil", e.path, e.err, p)
	}
	if d.Allowed(ip("198.51.100.7")) || !d.Allowed(ip("203.0.113.7")) {
		t.Fatal("reloaded list not in effect")
	}

	writeList(t, p, "198.51.100.0/24\n10.0.0.300\n", t0.Add(2*time.Second))
	e := next()
	if e.path != p || e.err == nil || !strings.Contains(e.err.Error(), p+`:2: "10.0.0.300": not an IP address`) {
		t.Fatalf("report = %v, %v; want the parse error", e.path, e.err)
	}
	if d.Allowed(ip("198.51.100.7")) {
		t.Fatal("broken file replaced the old list")
	}
	close(stop)
	wg.Wait()

	cancel()
	// After cancel the poller stops: a further change is not picked up.
	deadline := time.Now().Add(2 * time.Second)
	for d.watching.Load() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if d.watching.Load() {
		t.Fatal("Watch goroutine did not stop after cancel")
	}
	writeList(t, p, "192.0.2.0/24\n", t0.Add(3*time.Second))
	time.Sleep(30 * time.Millisecond)
	if d.Allowed(ip("198.51.100.7")) || !d.Allowed(ip("192.0.2.1")) {
		t.Fatal("list reloaded after the context was cancelled")
	}
	select {
	case e := <-events:
		t.Fatalf("report after cancel: %v", e)
	default:
	}
}

func TestWatchWithoutFilesIsNoop(t *testing.T) {
	d, err := NewDynamic(Lists{Deny: []string{"10.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	d.Watch(context.Background(), time.Millisecond, func(string, error) { t.Error("report without files") })
	if d.watching.Load() {
		t.Error("Watch started a goroutine without files")
	}
}

// A list replaced by renaming another file over it is reloaded even when the
// new file has the old one's modification time and size (cp -p, install -p,
// rsync and config tools preserve or set modification times).
func TestDynamicReloadsFileRenamedOverWithSameStat(t *testing.T) {
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	d, p := denyFileDynamic(t, "10.0.0.1\n", t0)
	tmp := filepath.Join(filepath.Dir(p), "blocklist.txt.new")
	writeList(t, tmp, "10.0.0.2\n", t0) // same size, same mtime
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	if d.Poll(nil) || !d.Poll(nil) {
		t.Fatal("Poll did not notice the file renamed over the list (on the second poll)")
	}
	if d.Allowed(ip("10.0.0.2")) || !d.Allowed(ip("10.0.0.1")) {
		t.Error("replacement list not in effect")
	}
}

// A file that cannot be read (typically permission denied) keeps the old
// list; once readable again it is loaded, although fixing a permission
// changes neither its modification time nor its size. The failure is
// reported once, not on every poll.
func TestDynamicRetriesUnreadableFile(t *testing.T) {
	t0 := time.Now().Add(-time.Hour)
	d, p := denyFileDynamic(t, "10.0.0.1\n", t0)
	var failRead atomic.Bool
	reads := 0
	d.read = func(path string) ([]byte, error) {
		reads++
		if failRead.Load() {
			return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrPermission}
		}
		return readFile(path)
	}
	var events []error
	report := func(_ string, err error) { events = append(events, err) }

	// The new version arrives unreadable.
	failRead.Store(true)
	writeList(t, p, "10.0.0.2\n", t0.Add(time.Second))
	d.Poll(report)
	d.Poll(report)
	if len(events) != 1 || !errors.Is(events[0], fs.ErrPermission) {
		t.Fatalf("events = %v, want one permission error", events)
	}
	if d.Allowed(ip("10.0.0.1")) {
		t.Fatal("unreadable file dropped the previous list")
	}

	// chmod: same mtime and size, now readable.
	failRead.Store(false)
	events = nil
	if d.Poll(report) || !d.Poll(report) {
		t.Fatal("file not reloaded (on the second poll) after it became readable")
	}
	if len(events) != 1 || events[0] != nil {
		t.Errorf("events = %v, want one success", events)
	}
	if d.Allowed(ip("10.0.0.2")) || !d.Allowed(ip("10.0.0.1")) {
		t.Error("new list not in effect")
	}

	// An oversized file is a property of its content: reported once and
	// not read again until it changes.
	d.read = func(path string) ([]byte, error) {
		reads++
		return nil, fmt.Errorf("%s: %w", path, errTooLarge)
	}
	writeList(t, p, "10.0.0.3\n", t0.Add(2*time.Second))
	events, reads = nil, 0
	d.Poll(report)
	d.Poll(report)
	d.Poll(report)
	if len(events) != 1 || reads != 2 {
		t.Errorf("oversized file: %d reports, %d reads; want 1 and 2 (seen twice, then left alone)", len(events), reads)
	}
}

// The same with a real permission error; root reads anything, so it only
// runs unprivileged.
func TestDynamicChmodFixedFileIsReloaded(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores file permissions")
	}
	t0 := time.Now().Add(-time.Hour)
	d, p := denyFileDynamic(t, "10.0.0.1\n", t0)
	writeList(t, p, "10.0.0.2\n", t0.Add(time.Second))
	if err := os.Chmod(p, 0); err != nil {
		t.Fatal(err)
	}
	if d.Poll(nil) {
		t.Fatal("unreadable file loaded")
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	d.Poll(nil)
	if !d.Poll(nil) || d.Allowed(ip("10.0.0.2")) {
		t.Fatal("file not reloaded after chmod")
	}
}

// denyFileDynamic writes content to a deny list file with modification time
// mtime and loads it; it returns the Dynamic and the file's path.
func denyFileDynamic(t *testing.T, content string, mtime time.Time) (*Dynamic, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "blocklist.txt")
	writeList(t, p, content, mtime)
	d, err := NewDynamic(Lists{DenyFiles: []string{p}})
	if err != nil {
		t.Fatal(err)
	}
	return d, p
}

// A list rewritten in place (truncated, then written in pieces) is never
// loaded half-written: a version is taken only when two consecutive polls
// found the same stat and the same content. The polls are the trigger; no
// clock is involved.
func TestDynamicWaitsForStableFile(t *testing.T) {
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	d, p := denyFileDynamic(t, "10.0.0.1\n10.0.0.2\n", t0)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	write := func(s string, mtime time.Time) {
		t.Helper()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	denied := func(when string, addrs ...string) {
		t.Helper()
		for _, a := range addrs {
			if d.Allowed(ip(a)) {
				t.Errorf("%s: %s allowed, want denied", when, a)
			}
		}
	}

	// The writer has written the first line of three.
	write("10.0.0.1\n", t0.Add(time.Second))
	if d.Poll(nil) {
		t.Error("half-written file swapped in")
	}
	denied("half-written", "10.0.0.1", "10.0.0.2")

	// The writer goes on: the next poll sees another version, and waits.
	write("10.0.0.2\n10.0.0.3\n", t0.Add(2*time.Second))
	if d.Poll(nil) {
		t.Error("file still being written swapped in")
	}
	denied("still being written", "10.0.0.2")

	// Done: unchanged across two polls.
	if !d.Poll(nil) {
		t.Fatal("complete file not swapped in")
	}
	denied("complete", "10.0.0.1", "10.0.0.2", "10.0.0.3")

	// Same size and modification time, other bytes (coarse timestamps):
	// the content hash tells the versions apart.
	rewrite := func(s string, mtime time.Time) {
		t.Helper()
		if err := f.Truncate(0); err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte(s), 0); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	t3 := t0.Add(3 * time.Second)
	rewrite("10.0.0.4\n10.0.0.6\n10.0.0.8\n", t3)
	d.Poll(nil)
	rewrite("10.0.0.5\n10.0.0.7\n10.0.0.9\n", t3)
	if d.Poll(nil) {
		t.Error("a version with other content swapped in after one poll")
	}
	if !d.Poll(nil) {
		t.Fatal("stable rewrite not swapped in")
	}
	denied("rewritten", "10.0.0.5", "10.0.0.7", "10.0.0.9")
	if !d.Allowed(ip("10.0.0.4")) {
		t.Error("the version seen only once was loaded")
	}

	// A change reverted before the next poll is never loaded.
	rewrite("10.0.0.6\n10.0.0.8\n10.0.0.1\n", t0.Add(4*time.Second))
	d.Poll(nil)
	rewrite("10.0.0.5\n10.0.0.7\n10.0.0.9\n", t3)
	if d.Poll(nil) || d.Poll(nil) {
		t.Error("reverting to the loaded version swapped a list in")
	}
	denied("reverted", "10.0.0.5")
}
