package main

import (
	"reflect"
	"testing"
)

type fakeRun struct{ r, id float64 }

func (f fakeRun) rate() float64 { return f.r }

func TestInterleave(t *testing.T) {
	var order []int
	res := interleave(3, 2, func(i int) int { order = append(order, i); return len(order) })
	if want := []int{0, 1, 0, 1, 0, 1}; !reflect.DeepEqual(order, want) {
		t.Fatalf("measured in order %v, want %v", order, want)
	}
	if want := [][]int{{1, 3, 5}, {2, 4, 6}}; !reflect.DeepEqual(res, want) {
		t.Fatalf("results %v, want %v", res, want)
	}
	if res := interleave(0, 1, func(int) int { return 7 }); len(res[0]) != 1 {
		t.Fatalf("0 rounds ran %d, want 1", len(res[0]))
	}
}

func TestMedians(t *testing.T) {
	rs := []fakeRun{{30, 0}, {10, 1}, {20, 2}, {40, 3}}
	if got := medianRound(rs); got.id != 0 {
		t.Fatalf("medianRound picked %+v, want the upper median (rate 30)", got)
	}
	if got := medianRound(rs[:3]); got.id != 2 {
		t.Fatalf("medianRound picked %+v, want rate 20", got)
	}
	if rs[0].id != 0 || rs[1].id != 1 {
		t.Fatal("medianRound reordered its argument")
	}
	xs := []float64{3, 1, 2}
	if got := mid(xs); got != 2 || xs[0] != 3 {
		t.Fatalf("mid = %v (input now %v), want 2 and the input unchanged", got, xs)
	}
}
