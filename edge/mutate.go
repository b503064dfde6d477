package edge

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/lockdhq/lockd/index/lql"
	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/sdk/api"
)

// encodedSize is the length of v's compact JSON (HTML not escaped), as
// the key service stores it.
func encodedSize(v any) int64 {
	var n countingWriter
	enc := json.NewEncoder(&n)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return max(int64(n)-1, 0) // without the encoder's newline
}

type countingWriter int64

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}

// mutate applies LQL mutations to the lease holder's view of the state
// and stages the result like /v1/update.
func (s *Server) mutate(c *call) error {
	body, err := c.readBody(s.cfg.JSONMax)
	if err != nil {
		return err
	}
	var req api.MutateRequest
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&req); err != nil {
		return badRequest(api.CodeInvalidBody, "failed to parse request: "+err.Error())
	}
	ns := c.query("namespace")
	if ns == "" {
		ns = req.Namespace
	}
	ref, err := c.ref(ns, c.query("key"), api.CodeMissingKey)
	if err != nil {
		return err
	}
	proof, err := c.leaseProof()
	if err != nil {
		return err
	}
	ifVersion, err := c.ifVersion()
	if err != nil {
		return err
	}
	if len(req.Mutations) == 0 {
		return badRequest(api.CodeInvalidBody, "mutations required")
	}
	muts, err := lql.ParseMutations(req.Mutations...)
	if err != nil {
		return badRequest(api.CodeInvalidMutations, err.Error())
	}
	var read, written int64
	res, err := s.keys.Mutate(c.ctx, keyspace.MutateRequest{Ref: ref, LeaseProof: proof, IfVersion: ifVersion,
		IfETag: c.header(api.HeaderIfStateETag)}, func(doc any) (any, error) {
		if doc != nil {
			b, _ := json.Marshal(doc)
			read = int64(len(b))
		}
		out, err := lql.Apply(doc, muts, time.Now)
		if err != nil {
			return nil, badRequest(api.CodeInvalidMutations, err.Error())
		}
		if n := encodedSize(out); n > s.cfg.JSONMax {
			return nil, documentTooLarge(s.cfg.JSONMax)
		}
		return out, nil
	})
	if err != nil {
		return err
	}
	written = res.Bytes
	h := &c.Response.Header
	setIntHeader(h, api.HeaderKeyVersion, res.NewVersion)
	h.Set(api.HeaderETag, res.NewETag)
	for k, v := range map[string]int64{
		api.HeaderMutateCandidatesSeen: 1, api.HeaderMutateCandidatesWritten: 1,
		api.HeaderMutateBytesRead: read, api.HeaderMutateBytesWritten: written,
		api.HeaderMutateBytesCaptured: written, api.HeaderMutateSpillCount: 0, api.HeaderMutateSpillBytes: 0,
	} {
		setIntHeader(h, k, v)
	}
	writeJSON(c.RequestCtx, 200, api.UpdateResponse{
		NewVersion: res.NewVersion, NewStateETag: res.NewETag, Bytes: res.Bytes, Metadata: meta(res.Hidden),
	})
	return nil
}
