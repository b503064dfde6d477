package tlsutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// BootstrapResult reports what Bootstrap did.
type BootstrapResult struct {
	Dir string
	// Created lists the files written, in order.
	Created []string
	// Notes explain what could not be created (e.g. no CA to sign with).
	Notes []string
}

// BootstrapClientClaims are the claims of the starter client certificate
// Bootstrap issues: the operator's own credential, valid for every
// namespace. Issue narrower ones with `lockd auth new client -n …`.
var BootstrapClientClaims = []Claim{{AllNamespaces, PermReadWrite}}

// Bootstrap creates in dir whatever is missing of ca.pem, server.pem,
// client.pem and config.yaml, and leaves existing files alone, so it is
// safe on every start. A folder with a server bundle but no ca.pem (CA kept
// offline) gets no new CA: nothing that needs one is issued. Concurrent
// bootstraps of one folder agree on one CA.
func Bootstrap(dir string) (BootstrapResult, error) {
	res := BootstrapResult{Dir: dir}
	if err := EnsureDir(dir); err != nil {
		return res, err
	}
	ca, err := bootstrapCA(dir, &res)
	if err != nil {
		return res, err
	}
	serverPath := filepath.Join(dir, ServerFile)
	if !exists(serverPath) {
		if ca == nil {
			res.Notes = append(res.Notes, "no "+CAFile+": cannot issue "+ServerFile)
		} else if err := bootstrapServer(ca, serverPath, &res); err != nil {
			return res, err
		}
	}
	clientPath := filepath.Join(dir, ClientFile)
	if !exists(clientPath) && ca != nil {
		b, err := ca.IssueClient(RoleSDK, ClientOptions{CommonName: "lockd-admin", Claims: BootstrapClientClaims})
		if err != nil {
			return res, err
		}
		if err := writeNew(clientPath, b.Encode, &res); err != nil {
			return res, err
		}
	}
	cfgPath := filepath.Join(dir, ConfigFile)
	if !exists(cfgPath) {
		cfg := fmt.Sprintf("# lockd configuration written by --bootstrap. Keys are the server's flag\n"+
			"# names; flags and LOCKD_* environment variables override them.\n"+
			"bundle: %s\n", serverPath)
		if err := writeNew(cfgPath, func() ([]byte, error) { return []byte(cfg), nil }, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

func bootstrapCA(dir string, res *BootstrapResult) (*CABundle, error) {
	path := filepath.Join(dir, CAFile)
	if exists(path) {
		return LoadCABundle(path)
	}
	if servers, _ := Glob(dir, "server"); len(servers) > 0 {
		return nil, nil // the CA lives elsewhere
	}
	ca, err := NewCA("lockd-ca", 0)
	if err != nil {
		return nil, err
	}
	if err := writeNew(path, ca.Encode, res); errors.Is(err, os.ErrExist) {
		return LoadCABundle(path) // another process won the race
	} else if err != nil {
		return nil, err
	}
	return ca, nil
}

func bootstrapServer(ca *CABundle, path string, res *BootstrapResult) error {
	cn := "lockd-server"
	if h, err := os.Hostname(); err == nil && pathSegment(h) != "" {
		cn = h
	}
	b, err := ca.IssueServer(ServerOptions{CommonName: cn})
	if err != nil {
		return err
	}
	return writeNew(path, b.Encode, res)
}

// writeNew writes a file that must not exist; losing a race to another
// writer is not an error for callers that reload.
func writeNew(path string, encode func() ([]byte, error), res *BootstrapResult) error {
	data, err := encode()
	if err != nil {
		return err
	}
	if err := WriteFile(path, data, false); err != nil {
		if errors.Is(err, os.ErrExist) && filepath.Base(path) != CAFile {
			return nil
		}
		return err
	}
	res.Created = append(res.Created, path)
	return nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
