package token

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// A small validating JSON walker for JWT headers and claims. It decodes the
// fields authgate needs in one pass without reflection, and rejects what
// encoding/json would silently accept: duplicate member names at any depth
// (different parsers pick different duplicates, a classic token-confusion
// trick), nesting deeper than maxDepth, and strings that are not valid
// Unicode: invalid UTF-8 bytes and unpaired surrogate escapes, which
// encoding/json silently turns into U+FFFD (so "role\xff" and "role\xfe"
// would pass the duplicate check as different names, then both read as
// "role\uFFFD").

const maxDepth = 32

var (
	errSyntax    = errors.New("malformed JSON")
	errDuplicate = errors.New("duplicate member name")
	errDepth     = errors.New("JSON nested too deeply")
	errType      = errors.New("unexpected JSON type")
	errUnicode   = errors.New("string is not valid UTF-8 (or has an unpaired surrogate)")
	errMembers   = errors.New("object has too many members")
)

type scanner struct {
	data  []byte
	pos   int
	depth int
	// noDup skips the duplicate-name check: the syntax-only scan that runs
	// before the signature (scanIssuer) does no work that grows with the
	// number of members beyond reading them once.
	noDup bool
	// maxMembers, when set, bounds the members of every object, so the
	// duplicate check stays in its fixed-size, allocation-free form.
	maxMembers int
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// eachMember walks a top-level object, calling fn with each member's decoded
// name (valid only during the call) and raw value. The whole input must be exactly
// one object.
func eachMember(data []byte, fn func(name, value []byte) error) error {
	s := scanner{data: data}
	return s.topObject(fn)
}

// maxHeaderMembers bounds the members of any object in a JOSE header, which
// is parsed before the signature: real headers have a handful (alg, kid,
// typ, x5t, ...), and the bound keeps a forged 8 KiB header from buying
// hundreds of name decodings and map insertions.
const maxHeaderMembers = 16

// eachHeaderMember is eachMember for a JOSE header (see maxHeaderMembers).
func eachHeaderMember(data []byte, fn func(name, value []byte) error) error {
	s := scanner{data: data, maxMembers: maxHeaderMembers}
	return s.topObject(fn)
}

// topObject scans the whole input as exactly one object (see object).
func (s *scanner) topObject(fn func(name, value []byte) error) error {
	s.skipSpace()
	if err := s.object(fn); err != nil {
		return err
	}
	s.skipSpace()
	if s.pos != len(s.data) {
		return errSyntax
	}
	return nil
}

func (s *scanner) object(fn func(name, value []byte) error) error {
	if s.pos >= len(s.data) || s.data[s.pos] != '{' {
		return errType
	}
	s.depth++
	if s.depth > maxDepth {
		return errDepth
	}
	s.pos++
	var seen [16][]byte // names of small objects, compared without allocating
	var seenMap map[string]struct{}
	n := 0
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		if s.maxMembers > 0 && n >= s.maxMembers {
			return errMembers
		}
		s.skipSpace()
		start := s.pos
		if err := s.str(); err != nil {
			return err
		}
		name := s.data[start:s.pos] // noDup: the raw name, quotes included
		if !s.noDup {
			var err error
			if name, err = checkDuplicate(s.data[start:s.pos], &seen, &seenMap, n); err != nil {
				return err
			}
			n++
		}
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return errSyntax
		}
		s.pos++
		s.skipSpace()
		vstart := s.pos
		if err := s.value(); err != nil {
			return err
		}
		if fn != nil {
			if err := fn(name, s.data[vstart:s.pos]); err != nil {
				return err
			}
		}
		s.skipSpace()
		if s.pos >= len(s.data) {
			return errSyntax
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			s.depth--
			return nil
		default:
			return errSyntax
		}
	}
}

// checkDuplicate decodes a raw member name and compares it with the names
// seen so far, so "sub" and "s\u0075b" collide. It returns the decoded name.
func checkDuplicate(raw []byte, seen *[16][]byte, seenMap *map[string]struct{}, n int) ([]byte, error) {
	name := raw[1 : len(raw)-1]
	if hasEscape(name) {
		decoded, err := unquote(raw)
		if err != nil {
			return nil, err
		}
		name = []byte(decoded)
	}
	if n < len(seen) {
		for _, prev := range seen[:n] {
			if string(prev) == string(name) {
				return nil, errDuplicate
			}
		}
		seen[n] = name
		return name, nil
	}
	if *seenMap == nil {
		*seenMap = make(map[string]struct{}, 2*len(seen))
		for _, prev := range seen {
			(*seenMap)[string(prev)] = struct{}{}
		}
	}
	if _, dup := (*seenMap)[string(name)]; dup {
		return nil, errDuplicate
	}
	(*seenMap)[string(name)] = struct{}{}
	return name, nil
}

func (s *scanner) value() error {
	if s.pos >= len(s.data) {
		return errSyntax
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return s.object(nil)
	case c == '[':
		return s.array()
	case c == '"':
		return s.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return errSyntax
}

func (s *scanner) array() error {
	s.depth++
	if s.depth > maxDepth {
		return errDepth
	}
	s.pos++ // '['
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		s.skipSpace()
		if err := s.value(); err != nil {
			return err
		}
		s.skipSpace()
		if s.pos >= len(s.data) {
			return errSyntax
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			s.depth--
			return nil
		default:
			return errSyntax
		}
	}
}

func (s *scanner) literal(lit string) error {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		return errSyntax
	}
	s.pos += len(lit)
	return nil
}

// plainStringByte marks the bytes a JSON string can hold as they are: ASCII,
// not '"', '\\' or a control character. Other bytes start a UTF-8 sequence
// that str validates.
var plainStringByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (s *scanner) str() error {
	if s.pos >= len(s.data) || s.data[s.pos] != '"' {
		return errSyntax
	}
	s.pos++
	for s.pos < len(s.data) {
		for s.pos < len(s.data) && plainStringByte[s.data[s.pos]] {
			s.pos++
		}
		if s.pos >= len(s.data) {
			break
		}
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return nil
		case c == '\\':
			if s.pos+1 >= len(s.data) {
				return errSyntax
			}
			switch s.data[s.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos += 2
			case 'u':
				if err := s.unicodeEscape(); err != nil {
					return err
				}
			default:
				return errSyntax
			}
		case c < 0x20:
			return errSyntax
		default:
			r, size := utf8.DecodeRune(s.data[s.pos:])
			if r == utf8.RuneError && size == 1 {
				return errUnicode
			}
			s.pos += size
		}
	}
	return errSyntax
}

// unicodeEscape consumes \uXXXX at s.pos, or a surrogate pair of two such
// escapes; a lone or misordered surrogate is refused.
func (s *scanner) unicodeEscape() error {
	r, ok := hex4(s.data, s.pos)
	if !ok {
		return errSyntax
	}
	s.pos += 6
	switch {
	case r >= 0xDC00 && r <= 0xDFFF:
		return errUnicode
	case r >= 0xD800 && r <= 0xDBFF:
		lo, ok := hex4(s.data, s.pos)
		if !ok || lo < 0xDC00 || lo > 0xDFFF {
			return errUnicode
		}
		s.pos += 6
	}
	return nil
}

// hex4 decodes the \uXXXX escape at data[i:].
func hex4(data []byte, i int) (rune, bool) {
	if i+6 > len(data) || data[i] != '\\' || data[i+1] != 'u' || !isHex4(data[i+2:i+6]) {
		return 0, false
	}
	var r rune
	for _, c := range data[i+2 : i+6] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func (s *scanner) number() error {
	start := s.pos
	if s.data[s.pos] == '-' {
		s.pos++
	}
	if s.pos >= len(s.data) {
		return errSyntax
	}
	if s.data[s.pos] == '0' {
		s.pos++
	} else if !s.digits() {
		return errSyntax
	}
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		s.pos++
		if !s.digits() {
			return errSyntax
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if !s.digits() {
			return errSyntax
		}
	}
	if s.pos == start {
		return errSyntax
	}
	return nil
}

func (s *scanner) digits() bool {
	start := s.pos
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
	}
	return s.pos > start
}

func hasEscape(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

// unquote decodes a raw JSON string (with its quotes) already validated by
// the scanner (escapes well-formed, surrogates paired, UTF-8 valid), in one
// pass without reflection: member names are decoded before the signature.
func unquote(raw []byte) (string, error) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", errType
	}
	inner := raw[1 : len(raw)-1]
	if !hasEscape(inner) {
		return string(inner), nil
	}
	out := make([]byte, 0, len(inner))
	for i := 0; i < len(inner); {
		c := inner[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(inner) {
			return "", errSyntax
		}
		switch e := inner[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(inner, i)
			if !ok {
				return "", errSyntax
			}
			i += 6
			if utf16.IsSurrogate(r) {
				lo, ok := hex4(inner, i)
				if r = utf16.DecodeRune(r, lo); !ok || r == utf8.RuneError {
					return "", errUnicode
				}
				i += 6
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			return "", errSyntax
		}
		i += 2
	}
	return string(out), nil
}

// unquoteRef is unquote for strings inside a buffer that is never modified
// and lives as long as the result (the claims payload): an unescaped string
// is returned as a view of the buffer, without copying.
func unquoteRef(raw []byte) (string, error) {
	if len(raw) > 2 && raw[0] == '"' && !hasEscape(raw[1:len(raw)-1]) {
		return unsafe.String(&raw[1], len(raw)-2), nil
	}
	return unquote(raw)
}

// stringOrArray decodes a value that is a string or an array of strings,
// inside the claims payload (see unquoteRef).
func stringOrArray(raw []byte) ([]string, error) {
	switch raw[0] {
	case '"':
		s, err := unquoteRef(raw)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	case '[':
		var out []string
		if err := json.Unmarshal(raw, &out); err != nil {
			return nil, errType
		}
		return out, nil
	}
	return nil, errType
}

// numericDate decodes a NumericDate (RFC 7519 §2): seconds, possibly
// fractional; the fraction is dropped.
func numericDate(raw []byte) (int64, error) {
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return 0, errType
	}
	if len(raw) <= 15 { // plain integer seconds: the common case, no allocation
		var n int64
		plain := true
		for _, c := range raw {
			if c < '0' || c > '9' {
				plain = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if plain {
			return n, nil
		}
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1<<53 {
		return 0, errType
	}
	return int64(f), nil
}
