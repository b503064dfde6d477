package api

// AttachResponse is the 200 response of POST /v1/attachments (upload).
// Noop reports that prevent_overwrite found an attachment of that name.
type AttachResponse struct {
	Namespace  string         `json:"namespace"`
	Key        string         `json:"key"`
	Attachment AttachmentInfo `json:"attachment"`
	Noop       bool           `json:"noop,omitempty"`
	Version    int64          `json:"version,omitempty"`
}

// DeleteAttachmentResponse is the 200 response of DELETE /v1/attachment.
type DeleteAttachmentResponse struct {
	Deleted bool  `json:"deleted"`
	Version int64 `json:"version,omitempty"`
}

// DeleteAllAttachmentsResponse is the 200 response of DELETE
// /v1/attachments: how many attachments were staged for deletion.
type DeleteAllAttachmentsResponse struct {
	Deleted int   `json:"deleted"`
	Version int64 `json:"version,omitempty"`
}

// Attachment response headers of GET /v1/attachment.
const (
	HeaderAttachmentID        = "X-Attachment-ID"
	HeaderAttachmentName      = "X-Attachment-Name"
	HeaderAttachmentSize      = "X-Attachment-Size"
	HeaderAttachmentSHA256    = "X-Attachment-SHA256"
	HeaderAttachmentCreatedAt = "X-Attachment-Created-At"
	HeaderAttachmentUpdatedAt = "X-Attachment-Updated-At"
)

// Attachment error codes.
const (
	CodeMissingAttachment     = "missing_attachment"
	CodeInvalidAttachmentName = "invalid_attachment_name"
	CodeInvalidMaxBytes       = "invalid_max_bytes"
	CodeAttachmentTooLarge    = "attachment_too_large"
	CodeAttachmentNotFound    = "attachment_not_found"
)
