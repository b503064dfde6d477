package crypt

import (
	"fmt"

	"github.com/golang/snappy"
)

// maxDecoded bounds the decompressed size of a record.
const maxDecoded = 1 << 30

var zeroNonce = make([]byte, 12)

// sealRecord returns the envelope of a record value stored under name.
func (k *Key) sealRecord(name string, plain []byte, compress bool) ([]byte, error) {
	var flags byte
	if compress && len(plain) > 0 {
		if c := snappy.Encode(nil, plain); len(c) < len(plain) {
			plain, flags = c, flagSnappy
		}
	}
	hdr, aead, err := k.newHeader(recordMagic, flags)
	if err != nil {
		return nil, err
	}
	out := make([]byte, headerSize, headerSize+len(plain)+tagSize)
	copy(out, hdr)
	return aead.Seal(out, zeroNonce, plain, additional(hdr, name)), nil
}

// openRecord returns the plaintext of a record envelope stored under name.
func (k *Key) openRecord(name string, env []byte) ([]byte, error) {
	h, aead, err := k.parseHeader(env, recordMagic)
	if err != nil {
		return nil, err
	}
	if len(env) < headerSize+tagSize {
		return nil, fmt.Errorf("%w: short record", ErrCorrupt)
	}
	plain, err := aead.Open(nil, zeroNonce, env[headerSize:], additional(h.raw, name))
	if err != nil {
		return nil, fmt.Errorf("%w: record does not authenticate", ErrCorrupt)
	}
	if h.flags&flagSnappy == 0 {
		return plain, nil
	}
	if n, err := snappy.DecodedLen(plain); err != nil || n > maxDecoded {
		return nil, fmt.Errorf("%w: bad compressed record", ErrCorrupt)
	}
	out, err := snappy.Decode(nil, plain)
	if err != nil {
		return nil, fmt.Errorf("%w: bad compressed record: %w", ErrCorrupt, err)
	}
	return out, nil
}
