package ipfilter

import (
	"context"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Lists is the configuration of a Dynamic filter: inline entries and list
// files (one entry per line, see ParseList).
type Lists struct{ Allow, Deny, AllowFiles, DenyFiles []string }

// Empty reports whether no entry and no file is configured.
func (l Lists) Empty() bool {
	return len(l.Allow) == 0 && len(l.Deny) == 0 && len(l.AllowFiles) == 0 && len(l.DenyFiles) == 0
}

// hasAllow: an allow list exists as soon as an allow entry or an allow file
// is configured. An allow file that is empty (or only comments) therefore
// allows nothing: it fails closed rather than opening up to everyone.
func (l Lists) hasAllow() bool { return len(l.Allow) > 0 || len(l.AllowFiles) > 0 }

// DefaultReloadInterval is used by Watch when every <= 0.
const DefaultReloadInterval = 5 * time.Second

// Dynamic is a Filter built from Lists whose files are polled for changes
// (modification time and size); a changed file is re-read and the new Filter
// swapped in atomically. A file that fails to read or parse keeps the
// previous list. All methods are safe for concurrent use.
type Dynamic struct {
	cur atomic.Pointer[Filter]

	mu       sync.Mutex // serialises Poll; guards static, files
	static   []rule
	hasAllow bool
	files    []*listFile

	watching atomic.Bool
}

type listFile struct {
	path    string
	deny    bool
	modTime time.Time
	size    int64
	rules   []rule
	failed  bool // the current on-disk state failed and was reported
}

// NewDynamic parses the inline entries and loads the files now. Errors name
// the entry and, for files, carry path:line.
func NewDynamic(l Lists) (*Dynamic, error) {
	d := &Dynamic{hasAllow: l.hasAllow()}
	for i, list := range [2][]string{l.Allow, l.Deny} {
		for _, s := range list {
			r, err := ParseEntry(s)
			if err != nil {
				return nil, err
			}
			d.static = append(d.static, rule{deny: i == 1, text: trimmed(s), r: r})
		}
	}
	for i, list := range [2][]string{l.AllowFiles, l.DenyFiles} {
		for _, path := range list {
			lf := &listFile{path: path, deny: i == 1}
			fi, err := os.Stat(path)
			if err != nil {
				return nil, err
			}
			lf.modTime, lf.size = fi.ModTime(), fi.Size()
			if lf.rules, err = loadFile(path, lf.deny); err != nil {
				return nil, err
			}
			d.files = append(d.files, lf)
		}
	}
	d.cur.Store(d.build())
	return d, nil
}

// build assembles a Filter from the static rules and the files' current
// rules. The caller holds d.mu (or owns d exclusively).
func (d *Dynamic) build() *Filter {
	n := len(d.static)
	for _, f := range d.files {
		n += len(f.rules)
	}
	rules := make([]rule, 0, n)
	rules = append(rules, d.static...)
	for _, f := range d.files {
		rules = append(rules, f.rules...)
	}
	return build(rules, d.hasAllow)
}

// Filter returns the current Filter (nil for a nil Dynamic).
func (d *Dynamic) Filter() *Filter {
	if d == nil {
		return nil
	}
	return d.cur.Load()
}

// Allowed is Filter.Allowed on the current list. A nil *Dynamic allows
// everything.
func (d *Dynamic) Allowed(addr netip.Addr) bool {
	if d == nil {
		return true
	}
	return d.cur.Load().Allowed(addr)
}

// Explain is Filter.Explain on the current list.
func (d *Dynamic) Explain(addr netip.Addr) (bool, string) {
	return d.Filter().Explain(addr)
}

// Len is Filter.Len on the current list.
func (d *Dynamic) Len() (allow, deny int) { return d.Filter().Len() }

// Poll checks every file once: a file whose modification time or size
// changed is re-read; if all changed files parse, the new Filter is swapped
// in and report(path, nil) is called for each; a file that fails to read or
// parse keeps its previous entries and report(path, err) is called once per
// change. It returns whether a new Filter was swapped in. report may be nil.
func (d *Dynamic) Poll(report func(path string, err error)) bool {
	if d == nil {
		return false
	}
	type event struct {
		path string
		err  error
	}
	var events []event
	d.mu.Lock()
	changed := false
	for _, lf := range d.files {
		fi, err := os.Stat(lf.path)
		if err != nil {
			if !lf.failed {
				lf.failed = true
				lf.modTime, lf.size = time.Time{}, -1 // reload when it reappears
				events = append(events, event{lf.path, err})
			}
			continue
		}
		if fi.ModTime().Equal(lf.modTime) && fi.Size() == lf.size {
			continue
		}
		// Record the stat taken before reading: if the file changes while we
		// read it, the next poll sees a newer stat and reads it again.
		lf.modTime, lf.size = fi.ModTime(), fi.Size()
		rules, err := loadFile(lf.path, lf.deny)
		if err != nil {
			lf.failed = true
			events = append(events, event{lf.path, err})
			continue
		}
		lf.rules, lf.failed = rules, false
		changed = true
		events = append(events, event{lf.path, nil})
	}
	if changed {
		d.cur.Store(d.build())
	}
	d.mu.Unlock()
	if report != nil {
		for _, e := range events {
			report(e.path, e.err)
		}
	}
	return changed
}

// Watch starts one goroutine that calls Poll every interval (DefaultReloadInterval
// if every <= 0) until ctx is done, and returns immediately. It is a no-op
// without files, for a nil Dynamic, and while a previous Watch is running.
// report(path, nil) follows a successful reload; report(path, err) a changed
// file that failed to read or parse (the previous list is kept). report may
// be nil.
func (d *Dynamic) Watch(ctx context.Context, every time.Duration, report func(path string, err error)) {
	if d == nil || len(d.files) == 0 || !d.watching.CompareAndSwap(false, true) {
		return
	}
	if every <= 0 {
		every = DefaultReloadInterval
	}
	go func() {
		defer d.watching.Store(false)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				d.Poll(report)
			}
		}
	}()
}
