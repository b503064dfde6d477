package testservers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockdhq/lockd/store/azure"
)

// The well-known development account every Azurite accepts.
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

var azurite = &shared{start: startAzurite}

func startAzurite() (*proc, error) {
	bin, err := findBinary("azurite-blob", "azurite/node_modules/.bin/azurite-blob")
	if err != nil {
		return nil, err
	}
	return startServer("azurite", bin, func(port int, _ string) []string {
		return []string{"--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port),
			"--inMemoryPersistence", "--skipApiVersionCheck", "--disableProductStyleUrl",
			"--disableTelemetry", "--silent"} // runs in dir; --location conflicts with --inMemoryPersistence
	})
}

// StartAzurite makes sure the shared Azurite runs for the duration of t
// and returns its blob service URL, e.g.
// http://127.0.0.1:PORT/devstoreaccount1.
func StartAzurite(t testing.TB) (endpoint string) {
	t.Helper()
	p := azurite.acquire(t)
	return "http://" + p.addr + "/" + AzuriteAccount
}

var containerSeq atomic.Uint64

// AzureConfig returns a Config for a fresh container (created by Open) on
// the shared Azurite, with short retry delays.
func AzureConfig(t testing.TB) azure.Config {
	t.Helper()
	return azure.Config{
		Account:    AzuriteAccount,
		AccountKey: AzuriteKey,
		Endpoint:   StartAzurite(t),
		Container:  fmt.Sprintf("lockd-%d-%x", containerSeq.Add(1), rand.Uint32()),
		Prefix:     "lockd",
		BaseDelay:  10 * time.Millisecond,
		MaxDelay:   200 * time.Millisecond,
	}
}

// OpenAzure opens a store with c and closes it when t ends.
func OpenAzure(t testing.TB, c azure.Config) *azure.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := azure.Open(ctx, c)
	if err != nil {
		t.Fatalf("testservers: open azure store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// NewAzureStore returns a store on a fresh container of the shared Azurite.
func NewAzureStore(t testing.TB) *azure.Store {
	t.Helper()
	return OpenAzure(t, AzureConfig(t))
}
