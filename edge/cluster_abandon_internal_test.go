package edge

import (
	"fmt"
	"testing"
)

// A take-back is handed out once; the table keeps at most lateAbandonMax
// unexpired ones and refuses more rather than grow.
func TestLateAbandonsTakeOnceAndBound(t *testing.T) {
	var l lateAbandons
	ran := 0
	l.put("a", func() { ran++ })
	if f := l.take("a"); f == nil {
		t.Fatal("no take-back for a")
	} else {
		f()
	}
	if l.take("a") != nil || l.take("b") != nil || ran != 1 {
		t.Fatal("a take-back was handed out twice, or one nobody kept")
	}
	for i := range lateAbandonMax {
		l.put(fmt.Sprint(i), func() {})
	}
	l.put("over", func() {})
	if l.take("over") != nil {
		t.Fatal("the table grew past its bound")
	}
	if l.take("0") == nil || l.take(fmt.Sprint(lateAbandonMax-1)) == nil {
		t.Fatal("kept take-backs lost")
	}
}
