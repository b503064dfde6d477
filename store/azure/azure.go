package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/internal/objstore"
)

var _ store.Store = (*Store)(nil)

// Store is an Azure-Blob-backed store. It is safe for concurrent use, also
// by several processes sharing the container and prefix.
type Store struct {
	cli      *container.Client
	cfg      Config
	recBase  string // "<prefix>/r/"
	blobBase string // "<prefix>/b/"
	stats    objstore.Counters
	closed   atomic.Bool
	idle     func() // closes idle connections
}

// Open connects to the container described by c, creating it when it is
// missing.
func Open(ctx context.Context, c Config) (*Store, error) {
	c.setDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	s := &Store{cfg: c, recBase: "r/", blobBase: "b/", idle: func() {}}
	if c.Prefix != "" {
		s.recBase, s.blobBase = c.Prefix+"/r/", c.Prefix+"/b/"
	}
	cli, err := s.newClient()
	if err != nil {
		return nil, err
	}
	s.cli = cli
	ctx, _ = s.stats.Begin(ctx, objstore.OpOther)
	if err := s.ensureContainer(ctx); err != nil {
		return nil, fmt.Errorf("azure: container %s: %w", c.Container, err)
	}
	return s, nil
}

func (s *Store) newClient() (*container.Client, error) {
	c := s.cfg
	base := c.Transport
	if base == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		tr.ResponseHeaderTimeout = 2 * time.Minute
		base = tr
		s.idle = tr.CloseIdleConnections
	}
	opts := &container.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: &http.Client{Transport: &objstore.CountingTransport{Base: base, Counters: &s.stats}},
		Retry: policy.RetryOptions{
			MaxRetries:    int32(c.MaxAttempts - 1),
			RetryDelay:    c.BaseDelay,
			MaxRetryDelay: c.MaxDelay,
			ShouldRetry:   shouldRetry,
		},
		Telemetry: policy.TelemetryOptions{ApplicationID: "lockd"},
	}}
	containerURL := c.Endpoint + "/" + url.PathEscape(c.Container)
	if c.SASToken != "" {
		cli, err := container.NewClientWithNoCredential(containerURL+"?"+c.SASToken, opts)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		return cli, nil
	}
	cred, err := container.NewSharedKeyCredential(c.Account, c.AccountKey)
	if err != nil {
		return nil, fmt.Errorf("%w: account key: %w", ErrConfig, err)
	}
	cli, err := container.NewClientWithSharedKeyCredential(containerURL, cred, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return cli, nil
}

// ensureContainer creates the container unless it exists. A SAS token may
// lack the rights to look; then the first real operation reports problems.
func (s *Store) ensureContainer(ctx context.Context) error {
	_, err := s.cli.GetProperties(ctx, nil)
	status, code := errInfo(err)
	switch {
	case err == nil, status == http.StatusForbidden:
		return nil
	case code != "ContainerNotFound" && status != http.StatusNotFound:
		return err
	}
	_, err = s.cli.Create(ctx, nil)
	if _, code := errInfo(err); err != nil && code != "ContainerAlreadyExists" {
		return err
	}
	return nil
}

// shouldRetry retries 408, 429, 5xx and transport errors, never a failed
// condition (409, 412) or any other answer.
func shouldRetry(resp *http.Response, err error) bool {
	if err != nil {
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	switch resp.StatusCode {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// Stats returns the operation and round-trip counters.
func (s *Store) Stats() Stats { return s.stats.Snapshot() }

// Close releases idle connections. Calls after Close return
// store.ErrClosed; blob readers already open stay usable.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.idle()
	return nil
}

// beginKey is begin for an operation on one record or blob: the empty
// name is refused, as List could never page past it.
func (s *Store) beginKey(ctx context.Context, o objstore.Op, key string) (context.Context, *objstore.Call, error) {
	if key == "" {
		return ctx, nil, ErrEmptyKey
	}
	return s.begin(ctx, o)
}

func (s *Store) begin(ctx context.Context, o objstore.Op) (context.Context, *objstore.Call, error) {
	if s.closed.Load() {
		return ctx, nil, store.ErrClosed
	}
	ctx, cl := s.stats.Begin(ctx, o)
	return ctx, cl, nil
}

func (s *Store) recBlob(key string) *blockblob.Client {
	return s.cli.NewBlockBlobClient(s.recBase + objstore.Escape(key))
}

func (s *Store) blobBlob(name string) *blockblob.Client {
	return s.cli.NewBlockBlobClient(s.blobBase + objstore.Escape(name))
}
