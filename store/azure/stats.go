package azure

import "github.com/lockdhq/lockd/store/internal/objstore"

// Stats is a snapshot of a Store's counters since Open.
type Stats = objstore.Stats

// OpStats counts one kind of store operation.
type OpStats = objstore.OpStats
