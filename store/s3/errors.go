package s3

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/lockdhq/lockd/store"
)

// ErrCorrupt is returned for a record object without this driver's header:
// something else wrote under the prefix. It is of class store.ErrCorrupt.
var ErrCorrupt = fmt.Errorf("s3: %w: record object without the driver's header", store.ErrCorrupt)

// ErrEmptyKey is returned for an empty record key or blob name.
var ErrEmptyKey = errors.New("s3: empty key")

// errMissingForCond is what a conditional write on a missing object
// returns: its precondition failed because the object is not there.
var errMissingForCond = fmt.Errorf("%w: %w", store.ErrConflict, store.ErrNotFound)

// errInfo extracts the HTTP status and S3 error code of an SDK error.
func errInfo(err error) (status int, code string) {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	return status, code
}

// mapErr translates an SDK error into store.ErrConflict, store.ErrNotFound
// or the error itself. A 409 counts as a failed precondition only for a
// conditional request (cond), where S3 uses it for a concurrent
// conditional write of the same key.
func mapErr(err error, cond bool) error {
	status, code := errInfo(err)
	switch {
	case status == http.StatusPreconditionFailed || code == "PreconditionFailed":
		return store.ErrConflict
	case cond && (status == http.StatusConflict || code == "ConditionalRequestConflict"):
		return store.ErrConflict
	case code == "NoSuchBucket":
		return err
	case status == http.StatusNotFound || code == "NoSuchKey" || code == "NotFound":
		return store.ErrNotFound
	}
	return err
}

// retryable vetoes retries of failed preconditions and adds 429; the
// SDK's standard checks then handle 5xx, throttling codes and transport
// errors.
func retryable(err error) aws.Ternary {
	status, code := errInfo(err)
	switch {
	case status == http.StatusPreconditionFailed || status == http.StatusConflict,
		code == "PreconditionFailed" || code == "ConditionalRequestConflict":
		return aws.FalseTernary
	case status == http.StatusTooManyRequests:
		return aws.TrueTernary
	}
	return aws.UnknownTernary
}
