// Package sweep walks the blob names of a store a bounded number of pages
// per run, resuming where the previous run stopped.
//
// Guarantees: one Run lists at most Pages pages of PageSize names, so its
// cost does not grow with the store; the position is saved in a store
// record after every page the caller handled, so the next Run (after a
// restart too) continues from there; a pass that reaches the end of the
// listing starts over at the beginning on the next Run, so every name is
// visited by some run, at least once per pass. Several nodes sharing a
// store share the cursor: they advance one pass together.
package sweep
