package crypt

// Seal encrypts one value outside a store (a file, a message) as a record
// envelope bound to name: opening it under another name, or with another
// root key, fails. A fresh data key seals every call.
func (k *Key) Seal(name string, plain []byte) ([]byte, error) {
	return k.sealRecord(name, plain, false)
}

// Open returns the plaintext of an envelope Seal made under name. It
// fails with ErrWrongKey, ErrNotEncrypted or ErrCorrupt, never returning
// garbage.
func (k *Key) Open(name string, envelope []byte) ([]byte, error) {
	return k.openRecord(name, envelope)
}
