package issuer

import (
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// MaxFormBytes caps the body of a token, introspection or revocation request.
// A larger body is answered 413 with an RFC 6749 invalid_request error.
const MaxFormBytes = 16 << 10

const formMediaType = "application/x-www-form-urlencoded"

// readBody is io.ReadAll, sized by the declared length when there is one
// (at most MaxFormBytes, checked before): one allocation for the body.
func readBody(body io.Reader, declared int64) ([]byte, error) {
	if declared < 0 {
		return io.ReadAll(body)
	}
	// One byte more, so the EOF read does not grow the buffer.
	b := make([]byte, 0, declared+1)
	for {
		n, err := body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // a body longer than declared
		}
	}
}

// form holds the parameters of a POST body. Each parameter appears at most
// once (RFC 6749 §3.1), except the ones listed in multiValued; a parameter
// sent without a value is treated as omitted.
type form struct {
	values url.Values
}

// multiValued lists parameters that may repeat (RFC 8693 §2.1).
var multiValued = map[string]bool{"audience": true, "resource": true}

func (f form) get(name string) string {
	if v := f.values[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (f form) all(name string) []string {
	var out []string
	for _, v := range f.values[name] {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// parseForm reads and strictly parses an application/x-www-form-urlencoded
// body. Query parameters are ignored: credentials and tokens are only
// accepted in the body.
func parseForm(w http.ResponseWriter, r *http.Request) (form, *oauthError) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return form{}, invalidRequest("Content-Type must be application/x-www-form-urlencoded")
	}
	// The bare media type, what clients send, is what ParseMediaType
	// would accept without parameters; anything else goes through it.
	if !strings.EqualFold(ct, formMediaType) {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || mt != formMediaType {
			return form{}, invalidRequest("Content-Type must be application/x-www-form-urlencoded")
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "us-ascii") {
			return form{}, invalidRequest("unsupported charset")
		}
	}
	if r.ContentLength > MaxFormBytes {
		return form{}, newError(http.StatusRequestEntityTooLarge, errInvalidRequest, "request body too large")
	}
	body := http.MaxBytesReader(w, r.Body, MaxFormBytes)
	data, err := readBody(body, r.ContentLength)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return form{}, newError(http.StatusRequestEntityTooLarge, errInvalidRequest, "request body too large")
		}
		return form{}, invalidRequest("cannot read request body")
	}
	return parseFormBody(string(data))
}

// parseFormBody parses an urlencoded body, rejecting malformed encoding and
// duplicated parameters. Empty values are dropped.
func parseFormBody(body string) (form, *oauthError) {
	vals, err := url.ParseQuery(body)
	if err != nil {
		return form{}, invalidRequest("malformed form body")
	}
	for k, v := range vals {
		if !utf8Valid(k) {
			return form{}, invalidRequest("malformed form body")
		}
		nonEmpty := v[:0]
		for _, s := range v {
			if !utf8Valid(s) {
				return form{}, invalidRequest("malformed form body")
			}
			if s != "" {
				nonEmpty = append(nonEmpty, s)
			}
		}
		if len(v) > 1 && !multiValued[k] {
			return form{}, invalidRequest("parameter " + safeName(k) + " is repeated")
		}
		if len(nonEmpty) == 0 {
			delete(vals, k)
			continue
		}
		vals[k] = nonEmpty
	}
	return form{values: vals}, nil
}

func safeName(k string) string {
	if len(k) > 40 {
		k = k[:40]
	}
	return sanitizeDescription(k)
}

func utf8Valid(s string) bool { return utf8.ValidString(s) }

// basicCredentials decodes an RFC 6749 §2.3.1 Authorization: Basic header:
// client_id and secret are form-urlencoded before base64.
func basicCredentials(h string) (id, secret string, ok bool) {
	const prefix = "basic "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h[len(prefix):]))
	if err != nil {
		return "", "", false
	}
	rawID, rawSecret, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false
	}
	if id, err = url.QueryUnescape(rawID); err != nil {
		return "", "", false
	}
	if secret, err = url.QueryUnescape(rawSecret); err != nil {
		return "", "", false
	}
	if id == "" || !utf8Valid(id) || !utf8Valid(secret) {
		return "", "", false
	}
	return id, secret, true
}
