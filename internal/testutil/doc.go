// Package testutil holds the fixtures that tests of several packages share:
// a settable clock, signing keys with their published JWKS, a key-set
// server, JWT decoding, a slog recorder and a race of clients presenting one
// single-use credential together. Only _test.go files import it.
package testutil
