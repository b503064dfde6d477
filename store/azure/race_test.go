//go:build race

package azure_test

// raceEnabled is set under -race, whose shadow memory inflates the RSS.
const raceEnabled = true
