package cluster

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
)

// KeySize is the size of the gossip key: AES-256.
const KeySize = 32

// ErrNoSecret is returned by DeriveKey for an empty secret.
var ErrNoSecret = errors.New("cluster: empty secret")

// gossipInfo binds derived keys to their use, so the gossip key never
// equals a key derived from the same secret for anything else (storage,
// index terms).
const gossipInfo = "lockd cluster gossip v1"

// DeriveKey derives the gossip encryption key from a secret every server
// of the cluster holds: the storage root key of the server bundle, or the
// text of --cluster-key. HKDF-SHA256 makes any secret length usable and
// reveals nothing of the secret through the key.
func DeriveKey(secret []byte) ([]byte, error) {
	if len(secret) == 0 {
		return nil, ErrNoSecret
	}
	return hkdf.Key(sha256.New, secret, nil, gossipInfo, KeySize)
}
