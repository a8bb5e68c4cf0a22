package jwkscache

import (
	"errors"
	"fmt"
	"time"

	"github.com/authgate/caddy-authgate/token"
)

// ErrClosed is wrapped by errors from sources whose Cache was closed.
var ErrClosed = errors.New("jwkscache: cache closed")

// UnavailableError means a source has no usable key set: it never fetched
// one, or the last successful fetch is older than MaxStale. It matches
// token.ErrKeysUnavailable with errors.Is, so the gateway fails closed with
// 503 and a Retry-After of RetryAfterSeconds.
type UnavailableError struct {
	// URL is the JWKS URL, or the issuer for a discovered source.
	URL string
	// RetryAfter is the time until the source's next fetch attempt (a hint).
	RetryAfter time.Duration
	// Err is the last fetch error, or why no fetch was made.
	Err error
}

// Error describes the failure; it never contains secrets (URLs of key sets
// are public).
func (e *UnavailableError) Error() string {
	msg := fmt.Sprintf("%s: %v", e.URL, token.ErrKeysUnavailable)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying cause.
func (e *UnavailableError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, token.ErrKeysUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == token.ErrKeysUnavailable }

// RetryAfterSeconds is RetryAfter rounded up to whole seconds, at least 1,
// for a Retry-After header.
func (e *UnavailableError) RetryAfterSeconds() int {
	s := int((e.RetryAfter + time.Second - 1) / time.Second)
	if s < 1 {
		return 1
	}
	return s
}
