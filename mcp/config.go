package mcp

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lockdhq/lockd/internal/clock"
	"github.com/lockdhq/lockd/sdk"
)

// Defaults of Config.
const (
	DefaultNamespace   = "default"
	DefaultLeaseTTL    = 30 * time.Second
	DefaultInlineBytes = 256 << 10
	DefaultChunkBytes  = 1 << 20
	// MaxChunkBytes keeps a chunk's message (base64 in JSON) well under the
	// 16 MiB event and line limits of MCP clients.
	MaxChunkBytes       = 4 << 20
	DefaultTransferIdle = 5 * time.Minute
	// MaxBlockSeconds caps how long one tool call waits for a lease or a
	// message.
	MaxBlockSeconds = 600
	// maxLeasesPerSession bounds what one session may hold at once.
	maxLeasesPerSession = 4096
)

// Config configures a Facade.
type Config struct {
	// Client talks to lockd (required). The facade does not close it.
	Client *sdk.Client
	// DefaultNamespace is used when a tool call names none.
	DefaultNamespace string
	// LeaseTTL is the TTL of a lease when the agent gives none.
	LeaseTTL time.Duration
	// InlineBytes is the largest payload returned inline in a tool result;
	// larger ones are opened as downloads.
	InlineBytes int64
	// ChunkBytes is the default and MaxChunk the largest chunk of a
	// download_read or upload_write.
	ChunkBytes int64
	MaxChunk   int64
	// TransferIdle closes transfers nobody touched for this long.
	TransferIdle time.Duration
	// RequireAuth refuses tool calls that carry no verified OAuth
	// principal (set when serving HTTP with OAuth).
	RequireAuth bool
	// Name and Version describe the server to clients.
	Name, Version string
	Logger        *slog.Logger
	Clock         clock.Clock
}

// ErrConfig reports an unusable Config.
var ErrConfig = errors.New("mcp: invalid configuration")

func (c Config) withDefaults() (Config, error) {
	if c.Client == nil {
		return c, fmt.Errorf("%w: no lockd client", ErrConfig)
	}
	if c.DefaultNamespace == "" {
		c.DefaultNamespace = DefaultNamespace
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.InlineBytes <= 0 {
		c.InlineBytes = DefaultInlineBytes
	}
	if c.MaxChunk <= 0 {
		c.MaxChunk = MaxChunkBytes
	}
	if c.ChunkBytes <= 0 {
		c.ChunkBytes = min(DefaultChunkBytes, c.MaxChunk)
	}
	if c.ChunkBytes > c.MaxChunk {
		return c, fmt.Errorf("%w: chunk size %d above the maximum %d", ErrConfig, c.ChunkBytes, c.MaxChunk)
	}
	if c.TransferIdle <= 0 {
		c.TransferIdle = DefaultTransferIdle
	}
	if c.Name == "" {
		c.Name = "lockd"
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	return c, nil
}
