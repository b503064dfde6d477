package main

import (
	"fmt"
	"strconv"
)

// runTxn compares multi-key transactions (acquire N keys in one txn,
// update each, release one: the coordinator commits all) with single-key
// cycles, on disk.
func runTxn(t *target) {
	header("transactions on "+t.name+" (8 workers, disjoint keys)", "keys per txn", "txns/s", "keys committed/s", "p50 ms", "p99 ms",
		"server CPU µs/txn", "commits/txn", "fsyncs/txn")
	for _, n := range []int{1, 2, 8} {
		r := measure(t, 8, func(c *client, w int, i int64) error { return txnCycle(c, w, i, n) })
		line := fmt.Sprintf("| %d | %.0f | %.0f | %s | %s | %s | %s | %s |", n, r.rate(), r.rate()*float64(n), ms(r.p50), ms(r.p99),
			perOp(r.cpu, float64(r.ops)), perReq(t, r.counts.commits, float64(r.ops)), perReq(t, r.counts.syncs, float64(r.ops)))
		if r.err != nil {
			line += " error: " + r.err.Error()
		}
		fmt.Println(line)
	}
	fmt.Println()
}

func txnCycle(c *client, w int, i int64, n int) error {
	txnID := ""
	var hs []held
	var keys []string
	for k := 0; k < n; k++ {
		key := "bench/txn/w" + strconv.Itoa(w) + "/k" + strconv.Itoa(k) + "/" + strconv.FormatInt(i%16, 10)
		body := fmt.Sprintf(`{"key":%q,"owner":"bench","ttl_seconds":60`, key)
		if txnID != "" {
			body += fmt.Sprintf(`,"txn_id":%q`, txnID)
		}
		st, resp, err := c.do("/v1/acquire", body+"}")
		if err != nil {
			return fmt.Errorf("acquire: %w", err)
		}
		if st != 200 {
			return fmt.Errorf("acquire: %d %s", st, resp)
		}
		var h held
		if err := jsonUnmarshal(resp, &h.AcquireResponse); err != nil {
			return err
		}
		txnID = h.TxnID
		if err := c.update(h, key); err != nil {
			return err
		}
		hs, keys = append(hs, h), append(keys, key)
	}
	return c.release(hs[0], keys[0])
}
