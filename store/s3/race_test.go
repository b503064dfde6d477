//go:build race

package s3_test

// raceEnabled is set under -race, whose shadow memory inflates the RSS.
const raceEnabled = true
