package edge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/rs/xid"

	"github.com/lockdhq/lockd/cluster"
	"github.com/lockdhq/lockd/internal/names"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/sdk/api"
)

// maxControlBody bounds the JSON bodies of control requests (acquire,
// release, …), which are tiny; state bodies have their own limit.
const maxControlBody = 1 << 20

// decodeStrict decodes exactly one JSON object into v, rejecting unknown
// fields and trailing data. An empty body is an error unless optional.
func (c *call) decodeStrict(v any, optional bool) error {
	body, err := c.readBody(maxControlBody)
	if err != nil {
		return err
	}
	return c.decodeStrictBytes(body, v, optional)
}

// decodeStrictBytes is decodeStrict on a body already read.
func (c *call) decodeStrictBytes(body []byte, v any, optional bool) error {
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil
		}
		return badRequest(api.CodeInvalidBody, "request body required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest(api.CodeInvalidBody, "failed to parse request: "+err.Error())
	}
	if dec.More() {
		return badRequest(api.CodeInvalidBody, "unexpected trailing JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest(api.CodeInvalidBody, "unexpected trailing data")
	}
	return nil
}

// readBody reads the whole request body, up to limit bytes. A larger
// body is 400 invalid_body, as lockd v0.9 answers for its JSON endpoints
// (only state documents get a 413, see readState).
func (c *call) readBody(limit int64) ([]byte, error) {
	if b, ok := c.auth.prefetched(); ok {
		if int64(len(b)) > limit {
			return nil, bodyTooLarge(limit)
		}
		return b, nil
	}
	r := c.RequestBodyStream()
	if r == nil {
		// Read whole already (a multiplexed forward, mux_serve.go).
		if b := c.PostBody(); int64(len(b)) <= limit {
			return b, nil
		}
		return nil, bodyTooLarge(limit)
	}
	if cl := c.Request.Header.ContentLength(); cl >= 0 && int64(cl) <= limit && cl <= 64<<10 {
		b := make([]byte, cl) // exactly the declared body, in one allocation
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, badRequest(api.CodeInvalidBody, "read body: "+err.Error())
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, badRequest(api.CodeInvalidBody, "read body: "+err.Error())
	}
	if int64(len(b)) > limit {
		return nil, bodyTooLarge(limit)
	}
	return b, nil
}

func bodyTooLarge(limit int64) *httpError {
	return badRequest(api.CodeInvalidBody, fmt.Sprintf("http: request body too large (limit %d bytes)", limit))
}

func (c *call) query(name string) string {
	return strings.TrimSpace(string(c.QueryArgs().Peek(name)))
}

func (c *call) header(name string) string {
	return strings.TrimSpace(string(c.Request.Header.Peek(name)))
}

// queryBool parses lockd's lenient query booleans: 1, true, yes, on.
func (c *call) queryBool(name string) bool {
	switch strings.ToLower(c.query(name)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

func (c *call) namespace(ns string) (string, error) {
	out, err := names.Namespace(ns, c.srv.cfg.DefaultNamespace)
	if err != nil {
		return "", badRequest(api.CodeInvalidNamespace, err.Error())
	}
	if err := c.authorizeNamespace(out); err != nil {
		return "", err
	}
	return out, nil
}

// ref resolves and validates namespace and key; missingCode names the
// error for an absent key, which is checked first (as lockd v0.9).
func (c *call) ref(ns, key, missingCode string) (keyspace.Ref, error) {
	if strings.TrimSpace(key) == "" {
		return keyspace.Ref{}, badRequest(missingCode, "key required")
	}
	ns, err := c.namespace(ns)
	if err != nil {
		return keyspace.Ref{}, err
	}
	k, err := names.Key(key)
	if err != nil {
		return keyspace.Ref{}, badRequest(api.CodeInvalidKey, err.Error())
	}
	if err := c.route(cluster.KindKey, ns, k); err != nil {
		return keyspace.Ref{}, err
	}
	return keyspace.Ref{Namespace: ns, Key: k}, nil
}

// queryRef reads namespace and key from the query string.
func (c *call) queryRef(missingCode string) (keyspace.Ref, error) {
	return c.ref(c.query("namespace"), c.query("key"), missingCode)
}

// fencing parses the required X-Fencing-Token header.
func (c *call) fencing() (uint64, error) {
	v := c.header(api.HeaderFencingToken)
	if v == "" {
		return 0, badRequest(api.CodeMissingFencingToken, "X-Fencing-Token header required")
	}
	n, err := strconv.ParseUint(v, 10, 63)
	if err != nil {
		return 0, badRequest(api.CodeInvalidFencingToken, "X-Fencing-Token must be a positive integer")
	}
	return n, nil
}

// leaseProof reads X-Lease-ID, X-Txn-ID and X-Fencing-Token, all required.
func (c *call) leaseProof() (keyspace.LeaseProof, error) {
	p := keyspace.LeaseProof{LeaseID: c.header(api.HeaderLeaseID), TxnID: c.header(api.HeaderTxnID)}
	if p.LeaseID == "" {
		return p, badRequest(api.CodeMissingLease, "X-Lease-ID required")
	}
	if p.TxnID == "" {
		return p, badRequest(api.CodeMissingTxn, "X-Txn-ID required")
	}
	var err error
	p.Fencing, err = c.fencing()
	return p, err
}

// ifVersion parses the optional X-If-Version header.
func (c *call) ifVersion() (*int64, error) {
	v := c.header(api.HeaderIfVersion)
	if v == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, badRequest(api.CodeInvalidVersion, "X-If-Version must be an integer")
	}
	return &n, nil
}

// hiddenHeader parses the optional X-Lockd-Meta-Query-Hidden header.
func (c *call) hiddenHeader() (*bool, error) {
	v := c.header(api.HeaderQueryHidden)
	if v == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return nil, badRequest(api.CodeInvalidMetadata, "X-Lockd-Meta-Query-Hidden must be a boolean")
	}
	return &b, nil
}

// validTxn checks a client-supplied transaction id.
func validTxn(id string) error {
	if id == "" {
		return nil
	}
	if _, err := xid.FromString(id); err != nil {
		return badRequest(api.CodeInvalidTxn, "txn_id must be a valid xid")
	}
	return nil
}
