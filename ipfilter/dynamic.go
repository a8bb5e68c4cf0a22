package ipfilter

import (
	"context"
	"crypto/sha256"
	"errors"
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
// (modification time, size, and whether the file was replaced); a changed
// file is swapped in, atomically, only once two consecutive polls found the
// same version (same file, modification time, size and SHA-256 of the
// content), so that a file being rewritten in place is never loaded
// half-written. A file that fails to read or parse keeps the previous list.
// All methods are safe for concurrent use.
type Dynamic struct {
	cur atomic.Pointer[Filter]

	mu       sync.Mutex // serialises Poll; guards static, files
	static   []rule
	hasAllow bool
	files    []*listFile
	read     func(path string) ([]byte, error) // readFile; tests inject I/O errors

	watching atomic.Bool
}

type listFile struct {
	path  string
	deny  bool
	fi    os.FileInfo // stat of the content last parsed (good or bad); nil: read on the next poll
	rules []rule
	// lastErr is the error last reported for this file ("" after a
	// successful load), so that a lasting stat or read failure, retried on
	// every poll, is reported once rather than every poll.
	lastErr string
	// pending is a changed version seen by the last poll, not yet loaded:
	// it is loaded when the next poll sees it again, unchanged.
	pending *version
}

// version identifies one content of a list file: the stat and a hash of
// the bytes, so that a rewrite that keeps size and a coarse modification
// time is still seen as a change.
type version struct {
	fi  os.FileInfo
	sum [sha256.Size]byte
}

func (v *version) same(o *version) bool {
	return os.SameFile(v.fi, o.fi) && v.fi.ModTime().Equal(o.fi.ModTime()) && v.fi.Size() == o.fi.Size() && v.sum == o.sum
}

// unchanged reports whether fi is the file last parsed: same file (a
// replacement renamed over the path is another file even when its
// modification time and size are equal), same modification time and size.
func (lf *listFile) unchanged(fi os.FileInfo) bool {
	return lf.fi != nil && os.SameFile(lf.fi, fi) && fi.ModTime().Equal(lf.fi.ModTime()) && fi.Size() == lf.fi.Size()
}

// NewDynamic parses the inline entries and loads the files now. Errors name
// the entry and, for files, carry path:line.
func NewDynamic(l Lists) (*Dynamic, error) {
	d := &Dynamic{hasAllow: l.hasAllow(), read: readFile}
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
			lf.fi = fi
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
// changed, or that was replaced by another file, is re-read. A new version
// is only remembered by the poll that first sees it; the next poll that
// finds it unchanged (stat and content hash) takes it: if it parses, a new
// Filter with its entries is swapped in and report(path, nil) is called; a
// file that fails to parse keeps its previous entries and report(path, err)
// is called once per change of the file. So a change takes effect between
// one and two poll intervals after its last write, and a writer that is
// still writing (a file rewritten in place) is never loaded half-written,
// unless it pauses for a whole interval: replace list files atomically. A file that
// cannot be found or read (deleted, permission denied) keeps its previous
// entries too; it is retried on every poll, since fixing a permission
// changes neither modification time nor size, and report(path, err) is
// called when the failure starts or its error changes. Poll returns whether
// a new Filter was swapped in. report may be nil.
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
		if err == nil && lf.unchanged(fi) {
			lf.pending = nil // back to the loaded version
			continue
		}
		var data []byte
		if err == nil {
			data, err = d.read(lf.path)
		}
		if err != nil && !errors.Is(err, errTooLarge) { // stat or read failed: retry next poll
			lf.fi, lf.pending = nil, nil
			if msg := err.Error(); msg != lf.lastErr {
				lf.lastErr = msg
				events = append(events, event{lf.path, err})
			}
			continue
		}
		// Wait for the same version on the next poll. The stat was taken
		// before reading: if the file changes while we read it, the next
		// poll sees a newer stat (or other bytes) and waits again.
		v := &version{fi: fi, sum: sha256.Sum256(data)}
		if lf.pending == nil || !lf.pending.same(v) {
			lf.pending = v
			continue
		}
		lf.fi, lf.pending = fi, nil
		var rules []rule
		if err == nil {
			rules, err = parseList(lf.path, data, lf.deny)
		}
		if err != nil {
			lf.lastErr = err.Error()
			events = append(events, event{lf.path, err})
			continue
		}
		lf.rules, lf.lastErr = rules, ""
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
