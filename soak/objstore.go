package soak

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lockdhq/lockd/internal/testservers"
)

// Credentials of the object store the harness starts.
const (
	objAccessKey = "lockdsoak"
	objSecretKey = "lockdsoaksecret"
	objBucket    = "lockd-soak"
)

// objectStore is a versitygw (S3) server the harness started for an "s3"
// phase, reached by the node through its own chaos proxy, which makes it
// a slow store (Overload.StoreLatency) for the whole phase.
type objectStore struct {
	cmd   *exec.Cmd
	addr  string
	proxy *Proxy
}

// startObjectStore runs versitygw on a free loopback port over dir,
// creates the bucket and puts a proxy with latency (plus up to jitter)
// in front of it.
func startObjectStore(dir string, latency, jitter time.Duration, seed uint64) (*objectStore, error) {
	bin, err := testservers.VersityGWBinary() // installs it when missing
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	o := &objectStore{addr: "127.0.0.1:" + strconv.Itoa(port)}
	o.cmd = exec.Command(bin, "--access", objAccessKey, "--secret", objSecretKey, "--port", o.addr, "--quiet", "posix", dir)
	o.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := o.cmd.Start(); err != nil {
		return nil, fmt.Errorf("soak: start versitygw: %w", err)
	}
	if err := o.createBucket(); err != nil {
		o.close()
		return nil, err
	}
	if o.proxy, err = NewProxy(o.addr, seed); err != nil {
		o.close()
		return nil, err
	}
	o.proxy.SetChaos(Chaos{Name: "slow-store", Latency: latency, Jitter: jitter})
	return o, nil
}

// createBucket retries until versitygw answers (bounded: 30s).
func (o *objectStore) createBucket() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cli := awss3.New(awss3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://" + o.addr), UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: objAccessKey, SecretAccessKey: objSecretKey}, nil
		}),
	})
	for {
		_, err := cli.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(objBucket)})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("soak: create bucket on versitygw: %w", errors.Join(err, ctx.Err()))
		case <-time.After(100 * time.Millisecond): // versitygw is starting
		}
	}
}

// storeURL is the node's store: the bucket through the slow proxy.
func (o *objectStore) storeURL() string {
	return "s3://" + o.proxy.Addr() + "/" + objBucket + "/lockd?insecure=1"
}

// env gives the node the store's credentials.
func (o *objectStore) env() []string {
	return []string{"LOCKD_S3_ACCESS_KEY_ID=" + objAccessKey, "LOCKD_S3_SECRET_ACCESS_KEY=" + objSecretKey}
}

func (o *objectStore) close() {
	if o.proxy != nil {
		o.proxy.Close()
	}
	if o.cmd != nil && o.cmd.Process != nil {
		o.cmd.Process.Kill()
		o.cmd.Wait()
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
