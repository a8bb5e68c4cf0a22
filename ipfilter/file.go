package ipfilter

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// MaxFileSize bounds the size of a list file (a 100 000-entry list is a few
// megabytes).
const MaxFileSize = 64 << 20

// ParseList parses list text: one entry per line; blank lines and '#'
// comments (whole-line or trailing) are ignored; CRLF line endings and a
// UTF-8 byte order mark are tolerated. Errors are prefixed with name:line,
// e.g. `blocklist.txt:12: "10.0.0.300": not an IP address`.
func ParseList(name string, data []byte) ([]Range, error) {
	rules, err := parseList(name, data, false)
	if err != nil {
		return nil, err
	}
	out := make([]Range, len(rules))
	for i, r := range rules {
		out[i] = r.r
	}
	return out, nil
}

// ReadListFile reads and parses the list file at path (see ParseList).
func ReadListFile(path string) ([]Range, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return ParseList(path, data)
}

// errTooLarge is a property of the file's content, not a read failure.
var errTooLarge = fmt.Errorf("file larger than %d bytes", MaxFileSize)

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: %w", path, errTooLarge)
	}
	return data, nil
}

// parseList parses list text into rules whose origin is "name:line".
func parseList(name string, data []byte, deny bool) ([]rule, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	// No capacity from the line count: blank and comment lines would make
	// it up to 88 bytes per byte of file (a 64 MiB file of newlines asked
	// for 5.6 GiB).
	var rules []rule
	line := 0
	for len(data) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			l, data = data, nil
		}
		if i := bytes.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		s := strings.TrimSpace(string(l))
		if s == "" {
			continue
		}
		r, err := ParseEntry(s)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		rules = append(rules, rule{deny: deny, origin: name + ":" + strconv.Itoa(line), text: s, r: r})
	}
	return rules, nil
}

// loadFile reads and parses a list file into rules.
func loadFile(path string, deny bool) ([]rule, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return parseList(path, data, deny)
}
