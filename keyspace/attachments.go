package keyspace

import (
	"sort"
)

// attachment is a named binary file of a key. The bytes are the blob Blob;
// a replaced or deleted attachment's blob becomes garbage once the record
// that dropped it is durable.
type attachment struct {
	ID          string `json:"id"` // UUIDv7, new on every upload
	Name        string `json:"name"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type,omitempty"`
	SHA256      string `json:"sha256"`
	Created     int64  `json:"created"` // unix seconds
	Updated     int64  `json:"updated"`
	Blob        string `json:"blob"`
}

// Attachment describes an attachment to callers.
type Attachment struct {
	ID          string
	Name        string
	Size        int64
	ContentType string
	SHA256      string
	Created     int64
	Updated     int64
	blob        string
}

func (a *attachment) public() Attachment {
	return Attachment{ID: a.ID, Name: a.Name, Size: a.Size, ContentType: a.ContentType,
		SHA256: a.SHA256, Created: a.Created, Updated: a.Updated, blob: a.Blob}
}

// holderAttachments is the holder's view: committed attachments with the
// staged clear, puts and deletes applied.
func (r *record) holderAttachments() map[string]*attachment {
	out := map[string]*attachment{}
	s := r.Staged
	if s == nil || !s.ClearAttachments {
		for n, a := range r.Attachments {
			out[n] = a
		}
	}
	if s != nil {
		for n, a := range s.Attachments {
			if a == nil {
				delete(out, n)
			} else {
				out[n] = a
			}
		}
	}
	return out
}

func sortedAttachments(m map[string]*attachment) []Attachment {
	out := make([]Attachment, 0, len(m))
	for _, a := range m {
		out = append(out, a.public())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// findAttachment looks an attachment up by name or id in a view.
func findAttachment(m map[string]*attachment, name, id string) *attachment {
	if name != "" {
		return m[name]
	}
	for _, a := range m {
		if a.ID == id {
			return a
		}
	}
	return nil
}

// stagedAttachments returns a copy of the staged attachment changes.
func (s *stagedRec) copyAttachments() map[string]*attachment {
	out := make(map[string]*attachment, len(s.Attachments)+1)
	for n, a := range s.Attachments {
		out[n] = a
	}
	return out
}

// stageAttach stages a new attachment; it replaces a staged upload of the
// same name (whose blob becomes garbage). Created is kept from the
// attachment it replaces.
func (r record) stageAttach(a *attachment) (record, []string) {
	s := r.staging()
	atts := s.copyAttachments()
	var garbage []string
	if old := atts[a.Name]; old != nil {
		garbage = append(garbage, old.Blob)
	}
	if prev := r.holderAttachments()[a.Name]; prev != nil {
		a.Created = prev.Created
	}
	atts[a.Name] = a
	s.Attachments = atts
	r.Staged = s
	return r, garbage
}

// stageDetach stages the deletion of one attachment.
func (r record) stageDetach(name string) (record, []string) {
	s := r.staging()
	atts := s.copyAttachments()
	var garbage []string
	if old := atts[name]; old != nil {
		garbage = append(garbage, old.Blob)
	}
	if r.Attachments[name] != nil && !s.ClearAttachments {
		atts[name] = nil // tombstone over a committed attachment
	} else {
		delete(atts, name)
	}
	s.Attachments = atts
	r.Staged = s
	return r, garbage
}

// stageDetachAll stages the deletion of every attachment.
func (r record) stageDetachAll() (record, []string) {
	s := r.staging()
	var garbage []string
	for _, a := range s.Attachments {
		if a != nil {
			garbage = append(garbage, a.Blob)
		}
	}
	s.Attachments, s.ClearAttachments = nil, true
	r.Staged = s
	return r, garbage
}

// commitAttachments applies staged changes to the committed set and returns
// the blobs that stop being referenced.
func commitAttachments(committed map[string]*attachment, s *stagedRec) (map[string]*attachment, []string) {
	if !s.ClearAttachments && len(s.Attachments) == 0 {
		return committed, nil
	}
	out := map[string]*attachment{}
	var garbage []string
	for n, a := range committed {
		if s.ClearAttachments {
			garbage = append(garbage, a.Blob)
			continue
		}
		if _, changed := s.Attachments[n]; changed {
			garbage = append(garbage, a.Blob)
			continue
		}
		out[n] = a
	}
	for n, a := range s.Attachments {
		if a != nil {
			out[n] = a
		}
	}
	if len(out) == 0 {
		out = nil
	}
	return out, garbage
}

// stagedAttachmentBlobs lists the blobs of staged uploads (garbage on
// rollback).
func (s *stagedRec) attachmentBlobs() []string {
	var out []string
	for _, a := range s.Attachments {
		if a != nil {
			out = append(out, a.Blob)
		}
	}
	return out
}
