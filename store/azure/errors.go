package azure

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/lockdhq/lockd/store"
)

// ErrEmptyKey is returned for an empty record key or blob name.
var ErrEmptyKey = errors.New("azure: empty key")

// errMissingForCond is what a conditional write on a missing blob returns:
// its precondition failed because the blob is not there.
var errMissingForCond = fmt.Errorf("%w: %w", store.ErrConflict, store.ErrNotFound)

// errInfo extracts the HTTP status and Azure error code of an SDK error.
func errInfo(err error) (status int, code string) {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode, re.ErrorCode
	}
	return 0, ""
}

// mapErr translates an SDK error into store.ErrConflict, store.ErrNotFound
// or the error itself. 409 counts as a failed precondition only for a
// conditional request (cond): it is Azure's answer to If-None-Match: * on
// an existing blob.
func mapErr(err error, cond bool) error {
	status, code := errInfo(err)
	switch {
	case err == nil:
		return nil
	case status == http.StatusPreconditionFailed || code == "ConditionNotMet":
		return store.ErrConflict
	case cond && (status == http.StatusConflict || code == "BlobAlreadyExists"):
		return store.ErrConflict
	case code == "ContainerNotFound":
		return err
	case status == http.StatusNotFound || code == "BlobNotFound":
		return store.ErrNotFound
	}
	return err
}
