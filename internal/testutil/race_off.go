//go:build !race

package testutil

// RaceEnabled reports a -race build: its shadow memory makes memory
// measurements meaningless, and it slows sequential, single-goroutine
// measurement loops tenfold without anything to find in them.
const RaceEnabled = false
