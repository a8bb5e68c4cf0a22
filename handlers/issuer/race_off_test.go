//go:build !race

package issuer

// raceEnabled reports a -race build: its shadow memory makes resident-set
// measurements meaningless.
const raceEnabled = false
