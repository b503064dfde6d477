//go:build race

package index

// raceEnabled is set under -race, where sync.Pool drops a quarter of Puts.
const raceEnabled = true
