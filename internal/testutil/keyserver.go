package testutil

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// KeySetServer is an identity provider's JWKS endpoint, and optionally its
// discovery documents, on a real loopback listener. Tests swap the set, fail,
// slow down or reshape answers at run time; it counts the fetches. The set,
// status and headers of an answer are fixed when its request arrives; the
// delay stands for the network and the provider's own latency.
type KeySetServer struct {
	*httptest.Server
	jwksPath string // "": every path without a document serves the set

	mu           sync.Mutex
	jwks         []byte
	kids         []string // published kids, as the test declared them
	hits         int      // JWKS fetches
	docs         map[string][]byte
	docHits      map[string]int
	status       int // 0: 200
	delay        time.Duration
	contentType  string // "": no Content-Type at all
	cacheControl string
	etag         bool // answer If-None-Match with 304
	chunked      bool // no Content-Length: flush after the first byte
	fetchStarted chan int
}

// NewKeySetServer serves an empty set at jwksPath ("" for every path that
// has no document) as application/jwk-set+json, and closes with t.
func NewKeySetServer(t testing.TB, jwksPath string) *KeySetServer {
	s := &KeySetServer{
		jwksPath: jwksPath, jwks: JWKS(), docs: map[string][]byte{}, docHits: map[string]int{},
		contentType: "application/jwk-set+json", fetchStarted: make(chan int, 1),
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *KeySetServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	doc, isDoc := s.docs[r.URL.Path]
	if isDoc || (s.jwksPath != "" && r.URL.Path != s.jwksPath) {
		s.docHits[r.URL.Path]++
		s.mu.Unlock()
		if !isDoc {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=3600")
		_, _ = w.Write(doc)
		return
	}
	s.hits++
	n, body, status, delay := s.hits, s.jwks, s.status, s.delay
	ct, cc, etag, chunked := s.contentType, s.cacheControl, s.etag, s.chunked
	s.mu.Unlock()
	select {
	case s.fetchStarted <- n:
	default:
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if status != 0 && status != http.StatusOK {
		http.Error(w, "failing on purpose", status)
		return
	}
	if cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	if etag {
		sum := sha256.Sum256(body)
		tag := fmt.Sprintf(`"%x"`, sum[:8])
		w.Header().Set("ETag", tag)
		if r.Header.Get("If-None-Match") == tag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	if ct == "" {
		w.Header()["Content-Type"] = nil // suppress sniffing: really no Content-Type
	} else {
		w.Header().Set("Content-Type", ct)
	}
	if chunked && len(body) > 1 {
		_, _ = w.Write(body[:1])
		w.(http.Flusher).Flush()
		body = body[1:]
	}
	_, _ = w.Write(body)
}

// JWKSURL is where the set is served.
func (s *KeySetServer) JWKSURL() string { return s.URL + s.jwksPath }

// Publish serves doc, which holds kids, from now on, and returns the fetch
// count at that instant: every fetch counted after it gets doc.
func (s *KeySetServer) Publish(kids []string, doc []byte) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jwks, s.kids = doc, kids
	return s.hits
}

// Published reports whether kid is in the served set right now.
func (s *KeySetServer) Published(kid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Contains(s.kids, kid)
}

// SetStatus makes the set's answers status (0 or 200: the set) and returns
// the fetch count at that instant.
func (s *KeySetServer) SetStatus(status int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
	return s.hits
}

// ServeDocument serves doc (JSON) at path, e.g. the discovery document.
func (s *KeySetServer) ServeDocument(path string, doc []byte) {
	s.mu.Lock()
	s.docs[path] = doc
	s.mu.Unlock()
}

func (s *KeySetServer) set(f func()) {
	s.mu.Lock()
	f()
	s.mu.Unlock()
}

// SetDelay delays every answer of the set by d.
func (s *KeySetServer) SetDelay(d time.Duration) { s.set(func() { s.delay = d }) }

// SetContentType sets the set's Content-Type ("": none).
func (s *KeySetServer) SetContentType(ct string) { s.set(func() { s.contentType = ct }) }

// SetCacheControl sets the set's Cache-Control ("": none).
func (s *KeySetServer) SetCacheControl(cc string) { s.set(func() { s.cacheControl = cc }) }

// SetETag makes the set carry an ETag and answer a matching If-None-Match
// with 304.
func (s *KeySetServer) SetETag(on bool) { s.set(func() { s.etag = on }) }

// SetChunked sends the set without Content-Length.
func (s *KeySetServer) SetChunked(on bool) { s.set(func() { s.chunked = on }) }

// Hits is the number of set fetches so far.
func (s *KeySetServer) Hits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits
}

// DocumentHits is the number of requests for path other than the set's.
func (s *KeySetServer) DocumentHits(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.docHits[path]
}

// NextFetch returns the hit number of the next set fetch that starts.
func (s *KeySetServer) NextFetch(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select { // drop a signal of an earlier fetch
	case <-s.fetchStarted:
	default:
	}
	select {
	case n := <-s.fetchStarted:
		return n
	case <-time.After(timeout):
		t.Fatalf("no JWKS fetch within %s (fetches so far: %d)", timeout, s.Hits())
		return 0
	}
}
