package testservers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lockdhq/lockd/store/s3"
)

// Credentials of the test S3 server.
const (
	S3AccessKey = "lockdtest"
	S3SecretKey = "lockdtestsecret"
)

var versitygw = &shared{start: startVersityGW}

// VersityGWBinary returns the versitygw binary's path, installing the test
// servers (scripts/testdeps.sh) when it is nowhere to be found.
func VersityGWBinary() (string, error) { return findBinary("versitygw", "bin/versitygw") }

func startVersityGW() (*proc, error) {
	bin, err := VersityGWBinary()
	if err != nil {
		return nil, err
	}
	return startServer("versitygw", bin, func(port int, dir string) []string {
		return []string{"--access", S3AccessKey, "--secret", S3SecretKey,
			"--port", "127.0.0.1:" + strconv.Itoa(port), "--quiet", "posix", dir}
	})
}

var bucketSeq atomic.Uint64

// StartS3 makes sure the shared versitygw runs for the duration of t and
// creates a fresh, empty bucket in it. endpoint is host:port (plain HTTP,
// path-style addressing).
func StartS3(t testing.TB) (endpoint, accessKey, secret, bucket string) {
	t.Helper()
	p := versitygw.acquire(t)
	bucket = fmt.Sprintf("lockd-%d-%x", bucketSeq.Add(1), rand.Uint32())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cli := awss3.New(awss3.Options{
		Region:       s3.DefaultRegion,
		BaseEndpoint: aws.String("http://" + p.addr),
		UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: S3AccessKey, SecretAccessKey: S3SecretKey}, nil
		}),
	})
	if _, err := cli.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatalf("testservers: create bucket %s: %v", bucket, err)
	}
	return p.addr, S3AccessKey, S3SecretKey, bucket
}

// S3Config returns a Config for a fresh bucket on the shared versitygw,
// with short retry delays.
func S3Config(t testing.TB) s3.Config {
	t.Helper()
	endpoint, key, secret, bucket := StartS3(t)
	return s3.Config{
		Endpoint: endpoint, Bucket: bucket, Prefix: "lockd",
		Insecure: true, PathStyle: true,
		AccessKeyID: key, SecretAccessKey: secret,
		BaseDelay: 10 * time.Millisecond, MaxDelay: 200 * time.Millisecond,
	}
}

// OpenS3 opens a store with c and closes it when t ends.
func OpenS3(t testing.TB, c s3.Config) *s3.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := s3.Open(ctx, c)
	if err != nil {
		t.Fatalf("testservers: open s3 store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// NewS3Store returns a store on a fresh bucket of the shared versitygw.
func NewS3Store(t testing.TB) *s3.Store {
	t.Helper()
	return OpenS3(t, S3Config(t))
}
