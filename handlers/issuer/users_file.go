package issuer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"
)

// UsersFileInterval is how often a users file is checked for changes.
const UsersFileInterval = 5 * time.Second

// maxUsersFile bounds a users file.
const maxUsersFile = 16 << 20

// usersFile is a JSON file of users (an array of UserConfig, the same
// records as store.UserRecord), polled for changes: a changed content read
// by two polls in a row that parses replaces the previous users whole; one
// that does not is logged once and the previous users stay.
type usersFile struct {
	path   string
	logger *slog.Logger
	dir    *userDirectory

	mu      sync.Mutex
	sum     [sha256.Size]byte  // content last loaded or rejected
	pending *[sha256.Size]byte // a changed content seen once, not loaded yet
	lastErr string
}

// load reads and parses the file now, for New: an error fails the config.
func (f *usersFile) load() error {
	data, err := readUsersFile(f.path)
	if err != nil {
		return err
	}
	m, err := parseUsersFile(data)
	if err != nil {
		return fmt.Errorf("%s: %w", f.path, err)
	}
	f.sum = sha256.Sum256(data)
	f.dir.file.Store(&m)
	return nil
}

// poll reloads the file when its content changed and reports whether it
// swapped in new users.
func (f *usersFile) poll() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	data, err := readUsersFile(f.path)
	if err != nil {
		f.report(err)
		return false
	}
	sum := sha256.Sum256(data)
	if sum == f.sum {
		f.pending = nil
		return false
	}
	// Like IP list files: a changed content is loaded once two polls in
	// a row read it, so a file being rewritten is never loaded (nor
	// reported) half-written.
	if f.pending == nil || *f.pending != sum {
		f.pending = &sum
		return false
	}
	f.pending = nil
	m, err := parseUsersFile(data)
	if err != nil {
		f.report(err)
		// Remember the bad content: it is reported once, and the file
		// is parsed again only when it changes.
		f.sum = sum
		return false
	}
	f.sum, f.lastErr = sum, ""
	f.dir.file.Store(&m)
	f.logger.LogAttrs(context.Background(), slog.LevelInfo, "users file reloaded", slog.String("path", f.path), slog.Int("users", len(m)))
	return true
}

func (f *usersFile) report(err error) {
	if err.Error() == f.lastErr {
		return
	}
	f.lastErr = err.Error()
	f.logger.LogAttrs(context.Background(), slog.LevelError, "users file not reloaded; the previous users stay",
		slog.String("path", f.path), slog.String("error", err.Error()))
}

// run polls until ctx is done.
func (f *usersFile) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f.poll()
		}
	}
}

func readUsersFile(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxUsersFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxUsersFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxUsersFile)
	}
	return data, nil
}

// parseUsersFile parses a JSON array of users; unknown fields are errors
// (a typo must not silently drop a password hash or a disabled flag).
func parseUsersFile(data []byte) (map[string]*userEntry, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var list []UserConfig
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("not a JSON array of users: %w", err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON array")
	}
	return buildUsers(list)
}
