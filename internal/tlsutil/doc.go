// Package tlsutil holds lockd's certificate material: PEM bundles, their
// generation, namespace claims carried in certificates, revocation
// (denylist) and the TLS configurations of servers and clients.
//
// # Bundles
//
// A bundle is a file of concatenated PEM blocks. Parsers accept the blocks
// in any order and ignore block types they do not know; writers emit them
// in this order:
//
//	ca.pem         CERTIFICATE (CA), PRIVATE KEY (CA), LOCKD STORAGE KEY
//	server*.pem    CERTIFICATE (CA), CERTIFICATE (server leaf, then any
//	               intermediates), PRIVATE KEY (server), LOCKD STORAGE KEY,
//	               LOCKD DENYLIST (optional)
//	client*.pem    CERTIFICATE (client leaf), PRIVATE KEY (client),
//	               CERTIFICATE (CA): leaf first, so curl --cert and OpenSSL
//	               take the file as it is
//	tc-client*.pem same as client*.pem, with a TC identity
//
// A certificate is a CA when its basic constraints say so; the leaf is the
// non-CA certificate whose public key matches a private key in the file.
// LOCKD STORAGE KEY holds the 32-byte root key of storage encryption; the
// CA key never leaves ca.pem. LOCKD DENYLIST lists revoked certificate
// serial numbers, one lower-case hex number per line.
//
// # Identities and claims
//
// Every leaf carries a SPIFFE URI SAN naming its role:
// spiffe://lockd/server/<name>, spiffe://lockd/sdk/<name> or
// spiffe://lockd/tc/<name>. Namespace authorization is carried in further
// URI SANs, lockd://ns/<namespace>?perm=r|w|rw (perm defaults to rw); the
// namespace ALL (upper case) grants every namespace. A claim for a named
// namespace overrides the ALL claim for that namespace.
package tlsutil
