package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
)

var (
	workersFlag = flag.String("workers", "8,64", "worker counts of the cycle, acqrel, read and forward scenarios, comma-separated")
	flowsFlag   = flag.String("flows", "4/4,32/32", "producers/consumers of the queue scenario, comma-separated")
)

// workerCounts parses -workers.
func workerCounts() []int {
	var out []int
	for _, s := range strings.Split(*workersFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			check(fmt.Errorf("-workers: bad count %q", s))
		}
		out = append(out, n)
	}
	return out
}

// queueFlows parses -flows.
func queueFlows() [][2]int {
	var out [][2]int
	for _, s := range strings.Split(*flowsFlag, ",") {
		p, c, ok := strings.Cut(strings.TrimSpace(s), "/")
		np, err1 := strconv.Atoi(p)
		nc, err2 := strconv.Atoi(c)
		if !ok || err1 != nil || err2 != nil || np <= 0 || nc <= 0 {
			check(fmt.Errorf("-flows: bad producers/consumers %q", s))
		}
		out = append(out, [2]int{np, nc})
	}
	return out
}
