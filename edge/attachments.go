package edge

import (
	"fmt"
	"strconv"
	"time"

	"github.com/lockdhq/lockd/keyspace"
	"github.com/lockdhq/lockd/sdk/api"
)

func (s *Server) attachmentRoutes(add addFunc) {
	add("/v1/attachments", "attachments", "GET,POST,DELETE", s.attachments)
	add("/v1/attachment", "attachment", "GET,DELETE", s.attachment)
}

func (s *Server) attachments(c *call) error {
	switch string(c.Method()) {
	case "POST":
		return s.attach(c)
	case "DELETE":
		return s.detachAll(c)
	}
	return s.listAttachments(c)
}

func (s *Server) attachment(c *call) error {
	if string(c.Method()) == "DELETE" {
		return s.detach(c)
	}
	return s.getAttachment(c)
}

// readProof returns the lease proof, or a zero proof for public reads
// (public=1 and no X-Lease-ID).
func (c *call) readProof() (keyspace.LeaseProof, bool, error) {
	if c.header(api.HeaderLeaseID) == "" && c.queryBool("public") {
		return keyspace.LeaseProof{}, true, nil
	}
	p, err := c.leaseProof()
	return p, false, err
}

func (s *Server) attach(c *call) error {
	ref, err := c.queryRef(api.CodeMissingKey)
	if err != nil {
		return err
	}
	name := c.query("name")
	if name == "" {
		return badRequest(api.CodeMissingAttachment, "attachment name required")
	}
	proof, err := c.leaseProof()
	if err != nil {
		return err
	}
	var maxBytes int64 // 0: the server's limit only
	if v := c.query("max_bytes"); v != "" {
		if maxBytes, err = strconv.ParseInt(v, 10, 64); err != nil || maxBytes < 0 {
			return badRequest(api.CodeInvalidMaxBytes, "max_bytes must be a non-negative integer (0 = no limit of its own)")
		}
	}
	limit := s.keys.AttachmentMax()
	if maxBytes > 0 {
		limit = min(limit, maxBytes)
	}
	if cl := c.Request.Header.ContentLength(); cl > 0 && int64(cl) > limit {
		return fail(413, api.CodeAttachmentTooLarge, fmt.Sprintf("attachment exceeds %d bytes", limit))
	}
	exp, err := c.expectations()
	if err != nil {
		return err
	}
	ctype := c.query("content_type")
	if ctype == "" {
		ctype = string(c.Request.Header.ContentType())
	}
	res, err := s.keys.Attach(c.ctx, keyspace.AttachRequest{
		Ref: ref, LeaseProof: proof, Name: name, ContentType: ctype, Body: c.bodyReader(), MaxBytes: maxBytes,
		ExpectedSHA256: exp.sha256, ExpectedBytes: exp.bytes, PreventOverwrite: c.queryBool("prevent_overwrite"),
	})
	if err != nil {
		return err
	}
	h := &c.Response.Header
	setUintHeader(h, api.HeaderFencingToken, proof.Fencing)
	setIntHeader(h, api.HeaderKeyVersion, res.Version)
	h.Set(api.HeaderAttachmentID, res.Attachment.ID)
	writeJSON(c.RequestCtx, 200, api.AttachResponse{Namespace: ref.Namespace, Key: ref.Key,
		Attachment: attachmentInfo(res.Attachment), Noop: res.Noop, Version: res.Version})
	return nil
}

func attachmentInfo(a keyspace.Attachment) api.AttachmentInfo {
	return api.AttachmentInfo{ID: a.ID, Name: a.Name, Size: a.Size, ContentType: a.ContentType,
		PlaintextSHA256: a.SHA256, CreatedAtUnix: a.Created, UpdatedAtUnix: a.Updated}
}

func (s *Server) listAttachments(c *call) error {
	ref, err := c.queryRef(api.CodeMissingKey)
	if err != nil {
		return err
	}
	proof, public, err := c.readProof()
	if err != nil {
		return err
	}
	list, err := s.keys.Attachments(c.ctx, ref, public, proof)
	if err != nil {
		return err
	}
	out := api.AttachmentListResponse{Namespace: ref.Namespace, Key: ref.Key, Attachments: []api.AttachmentInfo{}}
	for _, a := range list {
		out.Attachments = append(out.Attachments, attachmentInfo(a))
	}
	writeJSON(c.RequestCtx, 200, out)
	return nil
}

func (c *call) attachmentSelector() (string, string, error) {
	name, id := c.query("name"), c.query("id")
	if name == "" && id == "" {
		return "", "", badRequest(api.CodeMissingAttachment, "attachment name or id required")
	}
	return name, id, nil
}

func (s *Server) getAttachment(c *call) error {
	ref, err := c.queryRef(api.CodeMissingKey)
	if err != nil {
		return err
	}
	name, id, err := c.attachmentSelector()
	if err != nil {
		return err
	}
	proof, public, err := c.readProof()
	if err != nil {
		return err
	}
	a, body, err := s.keys.OpenAttachment(c.ctx, ref, public, proof, name, id)
	if err != nil {
		return err
	}
	h := &c.Response.Header
	ctype := a.ContentType
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	h.Set(api.HeaderAttachmentID, a.ID)
	h.Set(api.HeaderAttachmentName, a.Name)
	setIntHeader(h, api.HeaderAttachmentSize, a.Size)
	h.Set(api.HeaderAttachmentSHA256, a.SHA256)
	h.Set(api.HeaderAttachmentCreatedAt, time.Unix(a.Created, 0).UTC().Format(time.RFC3339))
	h.Set(api.HeaderAttachmentUpdatedAt, time.Unix(a.Updated, 0).UTC().Format(time.RFC3339))
	c.SetContentType(ctype)
	c.SetStatusCode(200)
	c.SetBodyStream(body, int(a.Size))
	return nil
}

func (s *Server) detach(c *call) error {
	ref, err := c.queryRef(api.CodeMissingKey)
	if err != nil {
		return err
	}
	name, id, err := c.attachmentSelector()
	if err != nil {
		return err
	}
	proof, err := c.leaseProof()
	if err != nil {
		return err
	}
	res, err := s.keys.Detach(c.ctx, ref, proof, name, id)
	if err != nil {
		return err
	}
	setUintHeader(&c.Response.Header, api.HeaderFencingToken, proof.Fencing)
	setIntHeader(&c.Response.Header, api.HeaderKeyVersion, res.Version)
	writeJSON(c.RequestCtx, 200, api.DeleteAttachmentResponse{Deleted: res.Deleted > 0, Version: res.Version})
	return nil
}

func (s *Server) detachAll(c *call) error {
	ref, err := c.queryRef(api.CodeMissingKey)
	if err != nil {
		return err
	}
	proof, err := c.leaseProof()
	if err != nil {
		return err
	}
	res, err := s.keys.DetachAll(c.ctx, ref, proof)
	if err != nil {
		return err
	}
	setIntHeader(&c.Response.Header, api.HeaderKeyVersion, res.Version)
	writeJSON(c.RequestCtx, 200, api.DeleteAllAttachmentsResponse{Deleted: res.Deleted, Version: res.Version})
	return nil
}
