package txn

import (
	"errors"
	"fmt"
)

// Errors of the coordinator; the edge maps them to status codes.
var (
	// ErrAborted: a commit was asked but a participant could not commit
	// (its lease expired or was lost), so the transaction rolled back.
	ErrAborted = errors.New("txn: transaction rolled back")
	// ErrNotFound: no coordinator record for the transaction.
	ErrNotFound = errors.New("txn: transaction not found")
	// ErrDecided: the transaction is already decided; it takes no new
	// participants.
	ErrDecided = errors.New("txn: transaction already decided")
	// ErrPending: the transaction has no decision yet.
	ErrPending = errors.New("txn: transaction pending")
	// ErrStaleTerm: a decision carries an older coordinator term.
	ErrStaleTerm = errors.New("txn: stale tc_term")
	// ErrInvalidState: a decision that is not pending, commit or rollback.
	ErrInvalidState = errors.New("txn: invalid state")
	// ErrQueueLeaseMismatch: an enlisted message's delivery lease is no
	// longer the one the transaction holds (it expired or was redelivered),
	// so the transaction cannot ack it.
	ErrQueueLeaseMismatch = errors.New("txn: queue message lease mismatch")
	// ErrFanout: a decision is durable but not every participant has
	// applied it yet; the leader's replay loop retries until they have.
	ErrFanout = errors.New("txn: decision recorded, fan-out incomplete")
	// ErrPrepareRefused: a remote node answered that a participant cannot
	// commit (its lease is gone).
	ErrPrepareRefused = errors.New("txn: participant cannot commit")
	// ErrUnavailable: the coordinator could not read or write its record.
	ErrUnavailable = errors.New("txn: coordinator unavailable")
)

// FanoutError is the error of a decision that is durable but that not
// every participant has applied yet (Failed lists those that refused or
// did not answer), or whose applied mark could not be written (Failed is
// empty: every participant has the decision). It wraps ErrFanout and the
// cause. The coordinator has logged and counted it and retries the
// fan-out; the participants not listed have the decision.
type FanoutError struct {
	TxnID  string
	State  State
	Failed []Participant
	Err    error
}

func (e *FanoutError) Error() string {
	if len(e.Failed) == 0 {
		return fmt.Sprintf("txn %s: %s recorded and applied, applied mark not written: %v", e.TxnID, e.State, e.Err)
	}
	return fmt.Sprintf("txn %s: %s recorded, fan-out incomplete (%d participants): %v", e.TxnID, e.State, len(e.Failed), e.Err)
}

// Unwrap returns ErrFanout and the cause.
func (e *FanoutError) Unwrap() []error { return []error{ErrFanout, e.Err} }

// reached reports whether every one of mine applied the decision: there
// is at least one, and none of them failed.
func (e *FanoutError) reached(mine []Participant) bool {
	if len(mine) == 0 {
		return false
	}
	for _, p := range mine {
		for _, f := range e.Failed {
			if f.same(p) {
				return false
			}
		}
	}
	return true
}
