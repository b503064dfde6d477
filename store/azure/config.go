package azure

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
	DefaultBlockSize   = 8 << 20
	DefaultConcurrency = 2
	DefaultMaxAttempts = 6
	DefaultBaseDelay   = 100 * time.Millisecond
	DefaultMaxDelay    = 5 * time.Second
)

// ErrConfig is wrapped by every configuration and URL error.
var ErrConfig = errors.New("azure: bad config")

// Config tells Open where and how to store blobs.
type Config struct {
	// Account is the storage account name.
	Account string
	// Container is created by Open when it does not exist (if the
	// credentials allow).
	Container string
	// Prefix is prepended to every blob name; leading and trailing '/' are
	// ignored.
	Prefix string
	// Endpoint is the blob service URL (default
	// https://<Account>.blob.core.windows.net); for Azurite
	// http://127.0.0.1:10000/devstoreaccount1.
	Endpoint string
	// AccountKey (Shared Key) or SASToken authenticates; set exactly one.
	AccountKey, SASToken string
	// BlockSize is the staged block size of blob uploads (default 8 MiB,
	// at least 1 MiB). A blob upload buffers at most
	// BlockSize × Concurrency bytes.
	BlockSize int64
	// Concurrency is the number of blocks of one blob uploaded at once
	// (default 2).
	Concurrency int
	// MaxAttempts bounds the tries of one request (default 6). Only 408,
	// 429, 5xx and transport errors are retried, never a failed condition.
	MaxAttempts int
	// BaseDelay and MaxDelay shape the exponential backoff between tries
	// (defaults 100 ms and 5 s).
	BaseDelay, MaxDelay time.Duration
	// Transport carries the HTTP requests (default: a clone of
	// http.DefaultTransport). Tests use it to inject faults.
	Transport http.RoundTripper
}

func (c *Config) setDefaults() {
	c.Prefix = strings.Trim(c.Prefix, "/")
	if c.Endpoint == "" && c.Account != "" {
		c.Endpoint = "https://" + c.Account + ".blob.core.windows.net"
	}
	c.Endpoint = strings.TrimRight(c.Endpoint, "/")
	c.SASToken = strings.TrimPrefix(c.SASToken, "?")
	if c.BlockSize == 0 {
		c.BlockSize = DefaultBlockSize
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
	case c.Account == "":
		return fmt.Errorf("%w: account is required", ErrConfig)
	case c.Container == "":
		return fmt.Errorf("%w: container is required", ErrConfig)
	case (c.AccountKey == "") == (c.SASToken == ""):
		return fmt.Errorf("%w: set exactly one of account key and SAS token", ErrConfig)
	case c.BlockSize < 1<<20:
		return fmt.Errorf("%w: block size %d below 1 MiB", ErrConfig, c.BlockSize)
	}
	if _, err := url.Parse(c.Endpoint); err != nil {
		return fmt.Errorf("%w: endpoint: %w", ErrConfig, err)
	}
	return nil
}

// ParseURL parses azure://account/container[/prefix] into a Config.
// Query parameters: endpoint (service URL override, e.g. for Azurite) and
// block_size (bytes). The account key comes from LOCKD_AZURE_ACCOUNT_KEY,
// the SAS token from LOCKD_AZURE_SAS_TOKEN; an empty account falls back to
// AZURE_STORAGE_ACCOUNT.
func ParseURL(raw string) (Config, error) {
	return parseURL(raw, os.Getenv)
}

func parseURL(raw string, getenv func(string) string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if u.Scheme != "azure" {
		return Config{}, fmt.Errorf("%w: %s: scheme must be azure", ErrConfig, raw)
	}
	if u.User != nil || u.Fragment != "" {
		return Config{}, fmt.Errorf("%w: %s: credentials and fragments are not allowed in the URL", ErrConfig, u.Redacted())
	}
	c := Config{Account: u.Host, AccountKey: getenv("LOCKD_AZURE_ACCOUNT_KEY"), SASToken: getenv("LOCKD_AZURE_SAS_TOKEN")}
	if c.Account == "" {
		c.Account = getenv("AZURE_STORAGE_ACCOUNT")
	}
	c.Container, c.Prefix, _ = strings.Cut(strings.Trim(u.Path, "/"), "/")
	if c.Account == "" || c.Container == "" {
		return Config{}, fmt.Errorf("%w: %s: want azure://account/container[/prefix]", ErrConfig, raw)
	}
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		switch k {
		case "endpoint":
			e, err := url.Parse(v)
			if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
				return Config{}, fmt.Errorf("%w: %s: endpoint %q is not an http(s) URL", ErrConfig, raw, v)
			}
			c.Endpoint = v
		case "block_size":
			if c.BlockSize, err = strconv.ParseInt(v, 10, 64); err != nil {
				return Config{}, fmt.Errorf("%w: %s: block_size: %w", ErrConfig, raw, err)
			}
		default:
			return Config{}, fmt.Errorf("%w: %s: unknown parameter %q", ErrConfig, raw, k)
		}
	}
	return c, nil
}
