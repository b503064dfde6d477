package crypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/lockdhq/lockd/store"
)

var (
	// ErrWrongKey reports an object encrypted under a different root key.
	ErrWrongKey = errors.New("crypt: object was encrypted with a different root key")
	// ErrNotEncrypted reports a plaintext object read through the decorator.
	ErrNotEncrypted = errors.New("crypt: object is not encrypted")
	// ErrCorrupt reports an envelope that fails to parse or authenticate:
	// the stored bytes were damaged or tampered with. Never retry it.
	// It is of class store.ErrCorrupt.
	ErrCorrupt = fmt.Errorf("crypt: object is corrupt or was tampered with (%w)", store.ErrCorrupt)
)

// RootKeySize is the size of a root key in bytes.
const RootKeySize = 32

const (
	dekSize     = 32
	wrappedSize = dekSize + 8
	keyIDSize   = 8
	headerSize  = 4 + 1 + keyIDSize + wrappedSize
	tagSize     = 16
)

// Key is a root key ready for use. It is safe for concurrent use.
type Key struct {
	kek cipher.Block
	id  [keyIDSize]byte
}

// NewKey derives the key-encryption key and key id from a 32-byte root key.
func NewKey(root []byte) (*Key, error) {
	if len(root) != RootKeySize {
		return nil, fmt.Errorf("crypt: root key is %d bytes, want %d", len(root), RootKeySize)
	}
	kek, err := hkdf.Key(sha256.New, root, nil, "lockd storage kek v1", 32)
	if err != nil {
		return nil, err
	}
	id, err := hkdf.Key(sha256.New, root, nil, "lockd storage key id v1", keyIDSize)
	if err != nil {
		return nil, err
	}
	k := &Key{}
	if k.kek, err = aes.NewCipher(kek); err != nil {
		return nil, err
	}
	copy(k.id[:], id)
	return k, nil
}

// ID returns the key id in hex: it names the root key without revealing
// it, in error messages and `lockd auth inspect`.
func (k *Key) ID() string { return hex.EncodeToString(k.id[:]) }

// newDEK returns a fresh data key and its wrapped form.
func (k *Key) newDEK() (dek, wrapped []byte, err error) {
	dek = make([]byte, dekSize)
	if _, err := rand.Read(dek); err != nil {
		return nil, nil, err
	}
	return dek, wrap(k.kek, dek), nil
}

// kwIV is the default initial value of RFC 3394.
var kwIV = [8]byte{0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6}

// wrap is AES key wrap (RFC 3394, section 2.2.1) of p, a multiple of 8
// bytes and at least 16.
func wrap(kek cipher.Block, p []byte) []byte {
	n := len(p) / 8
	out := make([]byte, 8+len(p))
	copy(out[8:], p)
	a := kwIV
	var b [16]byte
	for j := 0; j < 6; j++ {
		for i := 1; i <= n; i++ {
			r := out[8*i : 8*i+8]
			copy(b[:8], a[:])
			copy(b[8:], r)
			kek.Encrypt(b[:], b[:])
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(a[:], binary.BigEndian.Uint64(b[:8])^t)
			copy(r, b[8:])
		}
	}
	copy(out[:8], a[:])
	return out
}

// unwrap reverses wrap and checks the integrity value.
func unwrap(kek cipher.Block, c []byte) ([]byte, bool) {
	if len(c)%8 != 0 || len(c) < 24 {
		return nil, false
	}
	n := len(c)/8 - 1
	out := make([]byte, len(c)-8)
	copy(out, c[8:])
	var a [8]byte
	copy(a[:], c[:8])
	var b [16]byte
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			r := out[8*(i-1) : 8*i]
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(b[:8], binary.BigEndian.Uint64(a[:])^t)
			copy(b[8:], r)
			kek.Decrypt(b[:], b[:])
			copy(a[:], b[:8])
			copy(r, b[8:])
		}
	}
	if subtle.ConstantTimeCompare(a[:], kwIV[:]) != 1 {
		return nil, false
	}
	return out, true
}

// header is the parsed common envelope header.
type header struct {
	raw   []byte // the headerSize bytes, used as additional data
	magic string
	flags byte
}

// parseHeader checks the magic, flags and key id of an envelope and
// unwraps its data key.
func (k *Key) parseHeader(b []byte, magic string) (header, cipher.AEAD, error) {
	if len(b) < 4 || !isMagic(b[:4]) {
		return header{}, nil, ErrNotEncrypted
	}
	if string(b[:4]) != magic {
		return header{}, nil, fmt.Errorf("%w: envelope %q where %q (this version) was expected", ErrCorrupt, b[:4], magic)
	}
	if len(b) < headerSize {
		return header{}, nil, fmt.Errorf("%w: short header", ErrCorrupt)
	}
	h := header{raw: b[:headerSize], magic: magic, flags: b[4]}
	if h.flags&^flagSnappy != 0 {
		return header{}, nil, fmt.Errorf("%w: unknown flags %#x", ErrCorrupt, h.flags)
	}
	if subtle.ConstantTimeCompare(b[5:5+keyIDSize], k.id[:]) != 1 {
		return header{}, nil, fmt.Errorf("%w (object key id %x, this key %s)", ErrWrongKey, b[5:5+keyIDSize], k.ID())
	}
	dek, ok := unwrap(k.kek, b[5+keyIDSize:headerSize])
	if !ok {
		return header{}, nil, fmt.Errorf("%w: data key does not unwrap", ErrCorrupt)
	}
	aead, err := newGCM(dek)
	return h, aead, err
}

func (k *Key) newHeader(magic string, flags byte) (hdr []byte, aead cipher.AEAD, err error) {
	dek, wrapped, err := k.newDEK()
	if err != nil {
		return nil, nil, err
	}
	hdr = make([]byte, 0, headerSize)
	hdr = append(hdr, magic...)
	hdr = append(hdr, flags)
	hdr = append(hdr, k.id[:]...)
	hdr = append(hdr, wrapped...)
	aead, err = newGCM(dek)
	return hdr, aead, err
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

const (
	recordMagic = "LKE\x01"
	streamMagic = "LKS\x01"
	flagSnappy  = 1
)

func isMagic(b []byte) bool {
	return len(b) >= 4 && b[0] == 'L' && b[1] == 'K' && (b[2] == 'E' || b[2] == 'S') && b[3] >= 1 && b[3] < 16
}

// additional returns the additional data of an object: header and name.
func additional(hdr []byte, name string) []byte {
	ad := make([]byte, 0, len(hdr)+len(name))
	return append(append(ad, hdr...), name...)
}
