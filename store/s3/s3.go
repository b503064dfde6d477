package s3

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lockdhq/lockd/store"
	"github.com/lockdhq/lockd/store/internal/objstore"
)

var _ store.Store = (*Store)(nil)

// Store is an S3-backed store. It is safe for concurrent use, also by
// several processes sharing the bucket and prefix.
type Store struct {
	cli      *s3.Client
	cfg      Config
	recBase  string // "<prefix>/r/"
	blobBase string // "<prefix>/b/"
	stats    objstore.Counters
	closed   atomic.Bool
	idle     func() // closes idle connections
}

// Open connects to the bucket described by c and checks that it exists and
// that the credentials may read it.
func Open(ctx context.Context, c Config) (*Store, error) {
	c.setDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	s := &Store{cfg: c, recBase: "r/", blobBase: "b/", idle: func() {}}
	if c.Prefix != "" {
		s.recBase, s.blobBase = c.Prefix+"/r/", c.Prefix+"/b/"
	}
	awsCfg, err := s.awsConfig(ctx)
	if err != nil {
		return nil, err
	}
	s.cli = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if c.Endpoint != "" {
			scheme := "https://"
			if c.Insecure {
				scheme = "http://"
			}
			o.BaseEndpoint = aws.String(scheme + c.Endpoint)
		}
		o.UsePathStyle = c.PathStyle
		// Checksums only where S3 requires them: not every S3-compatible
		// server speaks the newer trailing-checksum encodings.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	ctx, _ = s.stats.Begin(ctx, objstore.OpOther)
	if _, err := s.cli.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(c.Bucket)}); err != nil {
		return nil, fmt.Errorf("s3: bucket %s: %w", c.Bucket, mapErr(err, false))
	}
	return s, nil
}

// awsConfig builds the SDK configuration: static or chained credentials,
// our HTTP client and our retry policy.
func (s *Store) awsConfig(ctx context.Context) (aws.Config, error) {
	c := s.cfg
	base := c.Transport
	if base == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		tr.ResponseHeaderTimeout = 2 * time.Minute
		base = tr
		s.idle = tr.CloseIdleConnections
	}
	httpc := &http.Client{Transport: &objstore.CountingTransport{Base: base, Counters: &s.stats}}
	retryer := func() aws.Retryer { return newRetryer(c) }
	if c.AccessKeyID != "" {
		creds := aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken, Source: "lockd"}
		return aws.Config{
			Region:      c.Region,
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
			HTTPClient:  httpc,
			Retryer:     retryer,
		}, nil
	}
	opts := []func(*config.LoadOptions) error{config.WithHTTPClient(httpc), config.WithRetryer(retryer)}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("%w: aws config: %w", ErrConfig, err)
	}
	if awsCfg.Region == "" {
		return aws.Config{}, fmt.Errorf("%w: no region (set region= or LOCKD_AWS_REGION)", ErrConfig)
	}
	return awsCfg, nil
}

// newRetryer retries throttling, 5xx and transport errors with jittered
// exponential backoff, and never a failed precondition (412, 409).
func newRetryer(c Config) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = c.MaxAttempts
		o.MaxBackoff = c.MaxDelay
		o.Backoff = backoff{base: c.BaseDelay, max: c.MaxDelay}
		o.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(retryable)}, o.Retryables...)
		// No client-side retry quota: one busy store must not make every
		// later request fail fast.
		o.RateLimiter = ratelimit.None
	})
}

type backoff struct{ base, max time.Duration }

// BackoffDelay returns a delay in [d/2, d] for d = min(max, base·2^(attempt-1)).
func (b backoff) BackoffDelay(attempt int, _ error) (time.Duration, error) {
	d := b.max
	if attempt >= 1 && attempt < 32 {
		if x := b.base << (attempt - 1); x > 0 && x < d {
			d = x
		}
	}
	return d/2 + rand.N(d/2+1), nil
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

func (s *Store) recName(key string) string   { return s.recBase + objstore.Escape(key) }
func (s *Store) blobName(name string) string { return s.blobBase + objstore.Escape(name) }
