// Package bundle creates the PEM bundles lockd's mutual TLS and storage
// encryption are built from, as `lockd auth new …` and `lockd --bootstrap`
// do, for programs that embed or provision lockd:
//
//   - a CA bundle (ca.pem): the CA certificate and key and the storage
//     root key every server bundle inherits;
//   - a server bundle (server.pem): the CA certificate, a server
//     certificate and key, the storage root key and a denylist of revoked
//     client serials (server.WithBundlePEM serves it);
//   - client bundles (client.pem, tc-client.pem): the CA certificate and a
//     client certificate and key whose URI SANs carry namespace claims
//     (sdk.WithBundle reads one).
//
// The names and request fields follow lockd v0.9's lockd.CreateCABundle
// family. Files are written with mode 0600 in folders created with mode
// 0700, atomically; an existing file is refused unless Force is set.
package bundle
