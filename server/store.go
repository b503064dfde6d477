package server

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/azure"
	"github.com/lockdhq/lockd/store/disk"
	"github.com/lockdhq/lockd/store/mem"
	"github.com/lockdhq/lockd/store/s3"
)

// DefaultStore is where a server keeps its data when no store is given:
// pebble on local disk, so a first run keeps what it is told.
const DefaultStore = "disk://./lockd-data"

// StoreOptions carry the object-store settings that are flags rather than
// URL parts. Zero values keep the drivers' defaults.
type StoreOptions struct {
	S3SSE         string // AES256 or aws:kms
	S3KMSKeyID    string
	AWSRegion     string
	AWSKMSKeyID   string
	S3MaxPartSize int64
	AzureKey      string
	AzureSASToken string
	AzureEndpoint string
	// Retries of transient storage errors (never of failed conditions).
	RetryMaxAttempts int
	RetryBaseDelay   time.Duration
	RetryMaxDelay    time.Duration
	// OnFatal is called when the store can no longer keep its promises
	// (a disk write that could not be synced); the server stops.
	OnFatal func(error)
}

// OpenStore opens the store a URL names:
//
//	mem://                             in memory, lost on exit
//	disk:///abs/path, disk://./rel     pebble on local disk
//	s3://host:port/bucket/prefix       S3-compatible server (?insecure=1 for HTTP)
//	aws://bucket/prefix                AWS S3 with the standard credential chain
//	azure://account/container/prefix   Azure Blob Storage
func OpenStore(raw string, o StoreOptions) (store.Store, error) {
	if raw == "" {
		raw = DefaultStore
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("store url %q: %w", raw, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	switch u.Scheme {
	case "mem":
		return mem.New(), nil
	case "disk", "file":
		path := diskPath(raw, u)
		if path == "" {
			return nil, fmt.Errorf("store url %q: disk path required", raw)
		}
		return disk.Open(path, disk.Options{OnSyncError: o.OnFatal})
	case "s3", "aws":
		c, err := s3.ParseURL(raw)
		if err != nil {
			return nil, err
		}
		o.applyS3(&c, u.Scheme)
		return s3.Open(ctx, c)
	case "azure":
		c, err := azure.ParseURL(raw)
		if err != nil {
			return nil, err
		}
		o.applyAzure(&c)
		return azure.Open(ctx, c)
	}
	return nil, fmt.Errorf("store url %q: unsupported scheme %q (want disk, mem, s3, aws or azure)", raw, u.Scheme)
}

func (o StoreOptions) applyS3(c *s3.Config, scheme string) {
	if c.SSE == "" {
		c.SSE = o.S3SSE
	}
	kms := o.S3KMSKeyID
	if scheme == "aws" {
		kms = o.AWSKMSKeyID
		if c.Region == "" {
			c.Region = o.AWSRegion
		}
		if kms != "" && c.SSE == "" {
			c.SSE = s3.SSEKMS
		}
	}
	if c.KMSKeyID == "" {
		c.KMSKeyID = kms
	}
	if c.PartSize == 0 && o.S3MaxPartSize > 0 {
		c.PartSize = o.S3MaxPartSize
	}
	c.MaxAttempts, c.BaseDelay, c.MaxDelay = o.RetryMaxAttempts, o.RetryBaseDelay, o.RetryMaxDelay
}

func (o StoreOptions) applyAzure(c *azure.Config) {
	if o.AzureKey != "" {
		c.AccountKey = o.AzureKey
	}
	if o.AzureSASToken != "" {
		c.SASToken = o.AzureSASToken
	}
	if c.Endpoint == "" {
		c.Endpoint = o.AzureEndpoint
	}
	c.MaxAttempts, c.BaseDelay, c.MaxDelay = o.RetryMaxAttempts, o.RetryBaseDelay, o.RetryMaxDelay
}

// diskPath accepts disk:///abs, disk://./rel, disk://rel and disk:/abs.
func diskPath(raw string, u *url.URL) string {
	rest := strings.TrimPrefix(raw, u.Scheme+":")
	rest = strings.TrimPrefix(rest, "//")
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	if rest == "" {
		return ""
	}
	return filepath.Clean(rest)
}
