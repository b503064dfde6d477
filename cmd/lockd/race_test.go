//go:build race

package main_test

// raceEnabled is set under -race, which slows the test process's own
// encoding of large payloads about tenfold.
const raceEnabled = true
