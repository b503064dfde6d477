package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/server"
)

// securityFlags are the server's mTLS, encryption and bootstrap flags.
type securityFlags struct {
	bundle            string
	bootstrap         string
	config            string
	disableMTLS       bool
	disableEncryption bool
	snappy            bool
}

func addSecurityFlags(fs *pflag.FlagSet) *securityFlags {
	f := &securityFlags{}
	fs.StringVarP(&f.bundle, "bundle", "b", "", "server bundle (default $HOME/.lockd/server.pem, created on first start)")
	fs.StringVar(&f.bootstrap, "bootstrap", "", "create whatever is missing of ca.pem, server.pem, client.pem and config.yaml in this folder, then serve with it (safe on every start)")
	fs.StringVarP(&f.config, "config", "c", "", "YAML configuration file, keys are flag names (default: the --bootstrap folder's config.yaml, else $HOME/.lockd/config.yaml, when it exists; \"\" reads none)")
	fs.BoolVar(&f.disableMTLS, "disable-mtls", false, "serve plain HTTP (testing, or behind a TLS-terminating proxy); a --bundle still encrypts storage")
	fs.BoolVar(&f.disableEncryption, "disable-storage-encryption", false, "store plaintext even with a bundle")
	fs.BoolVar(&f.snappy, "storage-encryption-snappy", false, "snappy-compress records before encrypting them")
	return f
}

// security loads the bundle the flags name and returns the server's
// Security. Without --bundle, mTLS uses $HOME/.lockd/server.pem and creates
// the folder's CA, server and client bundles when there is none, so a
// first start on a fresh machine is secure and needs no certificate step.
// --disable-mtls without --bundle runs without TLS and without encryption.
// Without firstRun, a missing default bundle means no bundle (verify).
func (f *securityFlags) security(log zerolog.Logger, firstRun bool) (server.Security, error) {
	path := f.bundle
	if f.bootstrap != "" {
		if err := bootstrapDir(f.bootstrap, log); err != nil {
			return server.Security{}, err
		}
		if path == "" {
			path = filepath.Join(f.bootstrap, tlsutil.ServerFile)
		}
	}
	if path == "" && f.disableMTLS {
		log.Warn().Msg("plain HTTP and no storage encryption: --disable-mtls without --bundle")
		return server.Security{}, nil
	}
	if path == "" {
		dir, err := tlsutil.DefaultDir()
		if err != nil {
			return server.Security{}, err
		}
		path = filepath.Join(dir, tlsutil.ServerFile)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if !firstRun {
				log.Warn().Str("bundle", path).Msg("no server bundle: storage encryption off")
				return server.Security{}, nil
			}
			if err := bootstrapDir(dir, log); err != nil {
				return server.Security{}, err
			}
		}
	}
	b, err := tlsutil.LoadServerBundle(path)
	if err != nil {
		return server.Security{}, fmt.Errorf("load bundle: %w", err)
	}
	if time.Now().After(b.Leaf.NotAfter) {
		return server.Security{}, fmt.Errorf("bundle %s: server certificate expired %s; issue a new one with `lockd auth new server`", path, b.Leaf.NotAfter.Format(time.RFC3339))
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn().Str("bundle", path).Str("mode", fi.Mode().Perm().String()).Msg("bundle file is readable by other users; chmod 600 it")
	}
	sec := server.Security{Bundle: b, BundlePath: path, DisableMTLS: f.disableMTLS,
		DisableEncryption: f.disableEncryption, Compress: f.snappy && !f.disableEncryption}
	if err := sec.Validate(); err != nil {
		return server.Security{}, fmt.Errorf("bundle %s: %w", path, err)
	}
	ev := log.Info().Str("bundle", path).Bool("mtls", sec.MTLS()).Bool("storage_encryption", sec.Encrypted())
	if sec.Encrypted() {
		ev = ev.Str("storage_key_id", keyID(b.StorageKey))
	}
	ev.Msg("security")
	return sec, nil
}

// bootstrapDir runs tlsutil.Bootstrap and logs what it created.
func bootstrapDir(dir string, log zerolog.Logger) error {
	res, err := tlsutil.Bootstrap(dir)
	if err != nil {
		return fmt.Errorf("bootstrap %s: %w", dir, err)
	}
	for _, f := range res.Created {
		log.Info().Str("file", f).Msg("bootstrap created")
	}
	for _, n := range res.Notes {
		log.Warn().Str("dir", dir).Msg("bootstrap: " + n)
	}
	if len(res.Created) > 0 {
		log.Info().Str("client_bundle", filepath.Join(dir, tlsutil.ClientFile)).
			Msg("clients: `lockd client` and the SDK find client*.pem in $HOME/.lockd, or take --bundle; curl: --cert <client bundle> --cacert <client bundle>")
	}
	return nil
}

// reloadOnHUP re-reads the bundle's denylist on each SIGHUP from hup
// until stop closes.
func reloadOnHUP(srv *server.Server, log zerolog.Logger, hup <-chan os.Signal, stop <-chan struct{}) {
	for {
		select {
		case <-hup:
			if err := srv.ReloadRevocations(); err != nil {
				log.Error().Err(err).Msg("reload revocations")
			} else {
				log.Info().Msg("revocations reloaded")
			}
		case <-stop:
			return
		}
	}
}
