package issuer

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestFormMediaTypeFastPath checks that skipping mime parsing for the bare
// media type accepts and refuses what ParseMediaType did.
func TestFormMediaTypeFastPath(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		ct     string
		status int
	}{
		{"application/x-www-form-urlencoded", 200},
		{"Application/X-WWW-Form-URLEncoded", 200},
		{"application/x-www-form-urlencoded; charset=utf-8", 200},
		{"application/x-www-form-urlencoded ; charset=US-ASCII", 200},
		{"application/x-www-form-urlencoded; charset=latin1", 400},
		{"application/x-www-form-urlencodedx", 400},
		{"application/x-www-form-urlencoded;", 200}, // ParseMediaType allows it
		{"application/x-www-form-urlencoded\x00", 400},
		{"multipart/form-data", 400},
	} {
		r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader("grant_type=client_credentials"))
		r.Header.Set("Content-Type", tc.ct)
		r.SetBasicAuth("app", "app-secret")
		if got := e.serve(r); got.status != tc.status {
			t.Errorf("%q: %d %s, want %d", tc.ct, got.status, got.raw, tc.status)
		}
	}
}

// TestReadBody checks the sized read against io.ReadAll whatever the
// declared length says, and that read errors come through.
func TestReadBody(t *testing.T) {
	body := "grant_type=client_credentials&scope=read"
	for _, declared := range []int64{-1, 0, 1, int64(len(body)) - 1, int64(len(body)), int64(len(body)) + 1, 4096} {
		got, err := readBody(strings.NewReader(body), declared)
		if err != nil || string(got) != body {
			t.Errorf("declared %d: %q, %v", declared, got, err)
		}
	}
	boom := errors.New("boom")
	if _, err := readBody(io.MultiReader(strings.NewReader("a=b"), errReader{boom}), 3); !errors.Is(err, boom) {
		t.Fatalf("read error lost: %v", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
