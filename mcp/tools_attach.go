package mcp

import (
	"bytes"
	"context"

	sdkmcp "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
)

// AttachmentOut describes an attachment.
type AttachmentOut struct {
	ID          string `json:"id,omitempty"`
	Name        string `json:"name"`
	ContentType string `json:"content_type,omitempty"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256,omitempty"`
	CreatedAt   string `json:"created_at,omitempty"`
	UpdatedAt   string `json:"updated_at,omitempty"`
}

func attachmentOut(a api.AttachmentInfo) AttachmentOut {
	out := AttachmentOut{ID: a.ID, Name: a.Name, ContentType: a.ContentType, Size: a.Size, SHA256: a.PlaintextSHA256}
	if a.CreatedAtUnix > 0 {
		out.CreatedAt = unixTime(a.CreatedAtUnix)
	}
	if a.UpdatedAtUnix > 0 {
		out.UpdatedAt = unixTime(a.UpdatedAtUnix)
	}
	return out
}

// AttachPutIn is the input of attachment_put.
type AttachPutIn struct {
	LeaseID          string `json:"lease_id"`
	Name             string `json:"name" jsonschema:"attachment name, unique within the key"`
	ContentType      string `json:"content_type,omitempty" jsonschema:"default application/octet-stream (text/plain for text)"`
	PreventOverwrite bool   `json:"prevent_overwrite,omitempty" jsonschema:"keep an existing attachment of that name (the result then has noop true)"`
	ExpectedSHA256   string `json:"expected_sha256,omitempty" jsonschema:"hex SHA-256 the server must find, or it refuses the upload"`
	DataIn
}

// AttachPutOut is the output of attachment_put and of an attachment upload.
type AttachPutOut struct {
	Attachment AttachmentOut `json:"attachment"`
	Noop       bool          `json:"noop,omitempty"`
	Version    int64         `json:"version,omitempty"`
	Staged     bool          `json:"staged" jsonschema:"true: visible to others after lock_release commits"`
}

// AttachRefIn names a key's attachments, through a lease or committed.
type AttachRefIn struct {
	Namespace string `json:"namespace,omitempty" jsonschema:"namespace (ignored with lease_id)"`
	Key       string `json:"key,omitempty" jsonschema:"key (ignored with lease_id)"`
	LeaseID   string `json:"lease_id,omitempty" jsonschema:"see the attachments through your lease (staged changes included); without it: the committed ones"`
}

// AttachListOut is the output of attachment_list.
type AttachListOut struct {
	Attachments []AttachmentOut `json:"attachments"`
}

// AttachGetIn is the input of attachment_get.
type AttachGetIn struct {
	AttachRefIn
	Name   string `json:"name,omitempty" jsonschema:"attachment name (or give id)"`
	ID     string `json:"id,omitempty"`
	Stream bool   `json:"stream,omitempty" jsonschema:"always return a stream_id instead of inline data"`
}

// AttachGetOut is the output of attachment_get.
type AttachGetOut struct {
	Attachment AttachmentOut `json:"attachment"`
	Payload
}

// AttachDeleteIn is the input of attachment_delete.
type AttachDeleteIn struct {
	LeaseID string `json:"lease_id"`
	Name    string `json:"name,omitempty"`
	ID      string `json:"id,omitempty"`
	All     bool   `json:"all,omitempty" jsonschema:"delete every attachment of the key"`
}

// AttachDeleteOut is the output of attachment_delete.
type AttachDeleteOut struct {
	Deleted int   `json:"deleted" jsonschema:"how many attachments were staged for deletion"`
	Version int64 `json:"version,omitempty"`
	Staged  bool  `json:"staged"`
}

func (f *Facade) addAttachmentTools() {
	tool(f, &sdkmcp.Tool{Name: "attachment_put", Annotations: mutating("Attach a file", true),
		Description: "Stage a named file (text or base64) on the leased key; lock_release commits it. For files larger than one call allows use upload_begin with target attachment."}, f.attachPut)
	tool(f, &sdkmcp.Tool{Name: "attachment_list", Annotations: readOnly("List attachments"),
		Description: "List a key's attachments: committed ones by namespace and key, or through your lease_id including staged changes."}, f.attachList)
	tool(f, &sdkmcp.Tool{Name: "attachment_get", Annotations: readOnly("Read an attachment"),
		Description: "Read an attachment by name or id. Small ones come back inline (text or base64); large ones as stream_id, read with download_read until eof."}, f.attachGet)
	tool(f, &sdkmcp.Tool{Name: "attachment_delete", Annotations: mutating("Delete attachments", true),
		Description: "Stage the deletion of one attachment (name or id) or of all of them (all=true) under your lease; lock_release commits it."}, f.attachDelete)
}

func (f *Facade) attachPut(ctx context.Context, c *call, in AttachPutIn) (AttachPutOut, error) {
	l, err := c.leaseFor(in.LeaseID, tlsutil.AccessWrite)
	if err != nil {
		return AttachPutOut{}, err
	}
	data, err := in.bytes()
	if err != nil {
		return AttachPutOut{}, err
	}
	ct := in.ContentType
	if ct == "" && in.Text != "" {
		ct = "text/plain; charset=utf-8"
	}
	res, err := l.ls.Attach(ctx, sdk.AttachRequest{Name: in.Name, ContentType: ct, Body: bytes.NewReader(data),
		Size: int64(len(data)), PreventOverwrite: in.PreventOverwrite, ExpectedSHA256: in.ExpectedSHA256})
	if err != nil {
		return AttachPutOut{}, err
	}
	return attachPutOut(res), nil
}

func attachPutOut(res *api.AttachResponse) AttachPutOut {
	return AttachPutOut{Attachment: attachmentOut(res.Attachment), Noop: res.Noop, Version: res.Version, Staged: true}
}

func (f *Facade) attachList(ctx context.Context, c *call, in AttachRefIn) (AttachListOut, error) {
	var list []api.AttachmentInfo
	if in.LeaseID != "" {
		l, err := c.leaseFor(in.LeaseID, tlsutil.AccessRead)
		if err != nil {
			return AttachListOut{}, err
		}
		if list, err = l.ls.ListAttachments(ctx); err != nil {
			return AttachListOut{}, err
		}
	} else {
		ns, err := c.ns(in.Namespace, tlsutil.AccessRead)
		if err != nil {
			return AttachListOut{}, err
		}
		if in.Key == "" {
			return AttachListOut{}, errArg("give key (committed attachments) or lease_id")
		}
		if list, err = f.cfg.Client.ListAttachments(ctx, in.Key, sdk.WithNamespace(ns)); err != nil {
			return AttachListOut{}, err
		}
	}
	out := AttachListOut{Attachments: make([]AttachmentOut, 0, len(list))}
	for _, a := range list {
		out.Attachments = append(out.Attachments, attachmentOut(a))
	}
	return out, nil
}

func (f *Facade) attachGet(ctx context.Context, c *call, in AttachGetIn) (AttachGetOut, error) {
	if in.Name == "" && in.ID == "" {
		return AttachGetOut{}, errArg("give name or id")
	}
	d := f.detachable(ctx)
	a, err := f.openAttachment(d.ctx, c, in)
	if err != nil {
		d.fail()
		return AttachGetOut{}, err
	}
	p, err := c.payload(d.detach(a), a.Size, a.ContentType, in.Stream)
	if err != nil {
		return AttachGetOut{}, err
	}
	return AttachGetOut{Attachment: attachmentOut(a.AttachmentInfo), Payload: p}, nil
}

// openAttachment starts reading an attachment, through a lease or committed.
func (f *Facade) openAttachment(ctx context.Context, c *call, in AttachGetIn) (*sdk.Attachment, error) {
	sel := sdk.AttachmentSelector{Name: in.Name, ID: in.ID}
	if in.LeaseID != "" {
		l, err := c.leaseFor(in.LeaseID, tlsutil.AccessRead)
		if err != nil {
			return nil, err
		}
		return l.ls.RetrieveAttachment(ctx, sel)
	}
	ns, err := c.ns(in.Namespace, tlsutil.AccessRead)
	if err != nil {
		return nil, err
	}
	if in.Key == "" {
		return nil, errArg("give key (committed attachment) or lease_id")
	}
	return f.cfg.Client.RetrieveAttachment(ctx, in.Key, sel, sdk.WithNamespace(ns))
}

func (f *Facade) attachDelete(ctx context.Context, c *call, in AttachDeleteIn) (AttachDeleteOut, error) {
	l, err := c.leaseFor(in.LeaseID, tlsutil.AccessWrite)
	if err != nil {
		return AttachDeleteOut{}, err
	}
	if in.All {
		res, err := l.ls.DeleteAllAttachments(ctx)
		if err != nil {
			return AttachDeleteOut{}, err
		}
		return AttachDeleteOut{Deleted: res.Deleted, Version: res.Version, Staged: true}, nil
	}
	if in.Name == "" && in.ID == "" {
		return AttachDeleteOut{}, errArg("give name, id or all=true")
	}
	res, err := l.ls.DeleteAttachment(ctx, sdk.AttachmentSelector{Name: in.Name, ID: in.ID})
	if err != nil {
		return AttachDeleteOut{}, err
	}
	out := AttachDeleteOut{Version: res.Version, Staged: true}
	if res.Deleted {
		out.Deleted = 1
	}
	return out, nil
}
