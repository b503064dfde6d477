package bundle

import (
	"errors"

	"github.com/lockdhq/lockd/internal/tlsutil"
)

// CreateCABundleFileRequest is CreateCABundle plus where to write.
type CreateCABundleFileRequest struct {
	// Path is the file to write. Required.
	Path string
	// Force replaces an existing file; without it one is an error
	// (os.ErrExist).
	Force bool
	CreateCABundleRequest
}

// CreateServerBundleFileRequest is CreateServerBundle plus where to write.
type CreateServerBundleFileRequest struct {
	Path  string
	Force bool
	CreateServerBundleRequest
}

// CreateClientBundleFileRequest is CreateClientBundle plus where to write.
type CreateClientBundleFileRequest struct {
	Path  string
	Force bool
	CreateClientBundleRequest
}

// CreateTCClientBundleFileRequest is CreateTCClientBundle plus where to
// write.
type CreateTCClientBundleFileRequest struct {
	Path  string
	Force bool
	CreateTCClientBundleRequest
}

// ErrNoPath is returned by the *File functions when Path is empty.
var ErrNoPath = errors.New("bundle: Path is required")

// CreateCABundleFile writes a new CA bundle to req.Path (mode 0600).
func CreateCABundleFile(req CreateCABundleFileRequest) error {
	return write(req.Path, req.Force, func() ([]byte, error) { return CreateCABundle(req.CreateCABundleRequest) })
}

// CreateServerBundleFile writes a new server bundle to req.Path.
func CreateServerBundleFile(req CreateServerBundleFileRequest) error {
	return write(req.Path, req.Force, func() ([]byte, error) { return CreateServerBundle(req.CreateServerBundleRequest) })
}

// CreateClientBundleFile writes a new SDK client bundle to req.Path.
func CreateClientBundleFile(req CreateClientBundleFileRequest) error {
	return write(req.Path, req.Force, func() ([]byte, error) { return CreateClientBundle(req.CreateClientBundleRequest) })
}

// CreateTCClientBundleFile writes a new TC client bundle to req.Path.
func CreateTCClientBundleFile(req CreateTCClientBundleFileRequest) error {
	return write(req.Path, req.Force, func() ([]byte, error) { return CreateTCClientBundle(req.CreateTCClientBundleRequest) })
}

func write(path string, force bool, make func() ([]byte, error)) error {
	if path == "" {
		return ErrNoPath
	}
	data, err := make()
	if err != nil {
		return err
	}
	return tlsutil.WriteFile(path, data, force)
}

// BootstrapResult reports what Bootstrap created.
type BootstrapResult struct {
	// Created lists the files written, in order.
	Created []string
	// Notes explain what could not be created (a folder with a server
	// bundle but no ca.pem gets no new CA).
	Notes []string
}

// Bootstrap creates in dir whatever is missing of ca.pem, server.pem,
// client.pem (ALL=rw) and config.yaml, leaving existing files alone, as
// `lockd --bootstrap DIR` does on every start.
func Bootstrap(dir string) (BootstrapResult, error) {
	r, err := tlsutil.Bootstrap(dir)
	return BootstrapResult{Created: r.Created, Notes: r.Notes}, err
}
