package main

import "sort"

// interleave measures targets 0..targets-1 in turn, rounds times (at least
// once), so that load from elsewhere on the machine falls on all of them
// alike. It returns each target's results in round order.
func interleave[R any](rounds, targets int, measure func(i int) R) [][]R {
	res := make([][]R, targets)
	for r := 0; r < max(rounds, 1); r++ {
		for i := range res {
			res[i] = append(res[i], measure(i))
		}
	}
	return res
}

// rated is a measured run with a throughput.
type rated interface{ rate() float64 }

// medianRound returns the run with the median rate (the upper one of an
// even count), so a row's rate and latencies come from the same run.
func medianRound[R rated](rs []R) R {
	s := append([]R(nil), rs...)
	sort.Slice(s, func(i, j int) bool { return s[i].rate() < s[j].rate() })
	return s[len(s)/2]
}

// mid returns the median of xs (the upper one of an even count).
func mid(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}
