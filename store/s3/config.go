package s3

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Defaults applied by Open to zero Config fields.
const (
	DefaultRegion      = "us-east-1"
	DefaultPartSize    = 16 << 20
	MinPartSize        = 5 << 20 // S3's minimum for all but the last part
	DefaultConcurrency = 2
	DefaultMaxAttempts = 6
	DefaultBaseDelay   = 100 * time.Millisecond
	DefaultMaxDelay    = 5 * time.Second
)

// Server-side encryption modes for Config.SSE.
const (
	SSENone = ""
	SSES3   = "AES256"
	SSEKMS  = "aws:kms"
)

// ErrConfig is wrapped by every configuration and URL error.
var ErrConfig = errors.New("s3: bad config")

// Config tells Open where and how to store objects.
type Config struct {
	// Endpoint is host[:port] of an S3-compatible server. Empty means AWS,
	// with the endpoint resolved from Region.
	Endpoint string
	// Bucket must exist; Open does not create it.
	Bucket string
	// Prefix is prepended to every object name; leading and trailing '/'
	// are ignored.
	Prefix string
	// Region signs requests (default DefaultRegion when Endpoint is set,
	// else resolved by the AWS chain).
	Region string
	// Insecure talks plain HTTP to Endpoint instead of HTTPS.
	Insecure bool
	// PathStyle addresses buckets as host/bucket rather than bucket.host,
	// as most S3-compatible servers need.
	PathStyle bool
	// AccessKeyID and SecretAccessKey are static credentials. When both are
	// empty the default AWS credential chain is used (env, profile, IAM).
	AccessKeyID, SecretAccessKey, SessionToken string
	// SSE is the server-side encryption of new objects: SSENone, SSES3 or
	// SSEKMS; KMSKeyID picks the key for SSEKMS (empty: the bucket default).
	SSE, KMSKeyID string
	// PartSize is the multipart part size in bytes (default 16 MiB, at
	// least MinPartSize). A blob upload buffers at most
	// PartSize × (Concurrency+1) bytes.
	PartSize int64
	// Concurrency is the number of parts of one blob uploaded at once
	// (default 2).
	Concurrency int
	// MaxAttempts bounds the tries of one request (default 6). Only
	// throttling, 5xx and transport errors are retried, never a failed
	// precondition.
	MaxAttempts int
	// BaseDelay and MaxDelay shape the exponential backoff between tries
	// (defaults 100 ms and 5 s); each delay is jittered to [d/2, d].
	BaseDelay, MaxDelay time.Duration
	// Transport carries the HTTP requests (default: a clone of
	// http.DefaultTransport). Tests use it to inject faults.
	Transport http.RoundTripper
}

func (c *Config) setDefaults() {
	c.Prefix = strings.Trim(c.Prefix, "/")
	if c.Region == "" && c.Endpoint != "" {
		c.Region = DefaultRegion
	}
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.BaseDelay <= 0 {
		c.BaseDelay = DefaultBaseDelay
	}
	if c.MaxDelay <= 0 {
		c.MaxDelay = DefaultMaxDelay
	}
}

func (c *Config) validate() error {
	switch {
	case c.Bucket == "":
		return fmt.Errorf("%w: bucket is required", ErrConfig)
	case c.SSE != SSENone && c.SSE != SSES3 && c.SSE != SSEKMS:
		return fmt.Errorf("%w: sse %q (want %s or %s)", ErrConfig, c.SSE, SSES3, SSEKMS)
	case c.KMSKeyID != "" && c.SSE != SSEKMS:
		return fmt.Errorf("%w: kms key id needs sse=%s", ErrConfig, SSEKMS)
	case c.PartSize < MinPartSize:
		return fmt.Errorf("%w: part size %d below %d", ErrConfig, c.PartSize, MinPartSize)
	case (c.AccessKeyID == "") != (c.SecretAccessKey == ""):
		return fmt.Errorf("%w: access key id and secret must be set together", ErrConfig)
	}
	return nil
}

// ParseURL parses a store URL into a Config:
//
//	s3://host[:port]/bucket[/prefix][?insecure=1]   S3-compatible server
//	aws://bucket[/prefix]                           AWS S3
//
// Query parameters: insecure (s3:// only), path_style (s3:// only, default
// 1), region, sse, kms_key_id, part_size (bytes). s3:// reads credentials
// from LOCKD_S3_ACCESS_KEY_ID and LOCKD_S3_SECRET_ACCESS_KEY, falling back
// to LOCKD_S3_ROOT_USER and LOCKD_S3_ROOT_PASSWORD. aws:// uses the AWS
// credential chain and takes the region from LOCKD_AWS_REGION, AWS_REGION
// or AWS_DEFAULT_REGION unless the URL names one.
func ParseURL(raw string) (Config, error) {
	return parseURL(raw, os.Getenv)
}

func parseURL(raw string, getenv func(string) string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if u.User != nil || u.Fragment != "" {
		return Config{}, fmt.Errorf("%w: %s: credentials and fragments are not allowed in the URL", ErrConfig, u.Redacted())
	}
	var c Config
	path := strings.Trim(u.Path, "/")
	switch u.Scheme {
	case "s3":
		if u.Host == "" {
			return Config{}, fmt.Errorf("%w: %s: missing host", ErrConfig, raw)
		}
		c.Endpoint, c.PathStyle = u.Host, true
		c.Bucket, c.Prefix, _ = strings.Cut(path, "/")
		c.AccessKeyID, c.SecretAccessKey = getenv("LOCKD_S3_ACCESS_KEY_ID"), getenv("LOCKD_S3_SECRET_ACCESS_KEY")
		if c.AccessKeyID == "" && c.SecretAccessKey == "" {
			c.AccessKeyID, c.SecretAccessKey = getenv("LOCKD_S3_ROOT_USER"), getenv("LOCKD_S3_ROOT_PASSWORD")
		}
	case "aws":
		c.Bucket, c.Prefix = u.Host, path
		c.Region = firstEnv(getenv, "LOCKD_AWS_REGION", "AWS_REGION", "AWS_DEFAULT_REGION")
	default:
		return Config{}, fmt.Errorf("%w: %s: scheme must be s3 or aws", ErrConfig, raw)
	}
	if c.Bucket == "" {
		return Config{}, fmt.Errorf("%w: %s: missing bucket", ErrConfig, raw)
	}
	if err := applyQuery(&c, u.Scheme, u.Query()); err != nil {
		return Config{}, fmt.Errorf("%w: %s: %w", ErrConfig, raw, err)
	}
	return c, nil
}

func applyQuery(c *Config, scheme string, q url.Values) error {
	for k, vs := range q {
		v := vs[len(vs)-1]
		var err error
		switch {
		case k == "insecure" && scheme == "s3":
			c.Insecure, err = strconv.ParseBool(v)
		case k == "path_style" && scheme == "s3":
			c.PathStyle, err = strconv.ParseBool(v)
		case k == "region":
			c.Region = v
		case k == "sse":
			c.SSE = v
		case k == "kms_key_id":
			c.KMSKeyID = v
		case k == "part_size":
			c.PartSize, err = strconv.ParseInt(v, 10, 64)
		default:
			return fmt.Errorf("unknown parameter %q", k)
		}
		if err != nil {
			return fmt.Errorf("parameter %s: %w", k, err)
		}
	}
	return nil
}

func firstEnv(getenv func(string) string, names ...string) string {
	for _, n := range names {
		if v := getenv(n); v != "" {
			return v
		}
	}
	return ""
}
