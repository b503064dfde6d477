package api

// Header names.
const (
	HeaderLeaseID          = "X-Lease-ID"
	HeaderTxnID            = "X-Txn-ID"
	HeaderFencingToken     = "X-Fencing-Token"
	HeaderIfVersion        = "X-If-Version"
	HeaderIfStateETag      = "X-If-State-ETag"
	HeaderCorrelationID    = "X-Correlation-Id"
	HeaderKeyVersion       = "X-Key-Version"
	HeaderETag             = "ETag"
	HeaderQueryHidden      = "X-Lockd-Meta-Query-Hidden"
	HeaderExpectedSHA256   = "X-Expected-SHA256"
	HeaderExpectedBytes    = "X-Expected-Bytes"
	HeaderRetryAfter       = "Retry-After"
	HeaderShutdownImminent = "Shutdown-Imminent"
	// HeaderQRFState is the admission posture (disengaged, soft_arm,
	// engaged, recovery), sent on 429 throttled and whenever the server is
	// not disengaged.
	HeaderQRFState = "X-Lockd-QRF-State"
)

// MaxCorrelationIDLen is the longest correlation id the server accepts.
const MaxCorrelationIDLen = 128
