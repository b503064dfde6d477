package sdk_test

import (
	"errors"
	"net"
	"path/filepath"
	"testing"

	"github.com/lockdhq/lockd/internal/tlsutil"
	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
	"github.com/lockdhq/lockd/server"
	"github.com/lockdhq/lockd/store/mem"
)

// Under mTLS the TC calls need a TC or server identity: an SDK client
// certificate, even with the ALL claim, is refused with tc_forbidden.
func TestTCCallsNeedATCIdentity(t *testing.T) {
	ca, err := tlsutil.NewCA("sdk-tc-test", 0)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := ca.IssueServer(tlsutil.ServerOptions{CommonName: "tc-node"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, encode func() ([]byte, error)) string {
		data, err := encode()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := tlsutil.WriteFile(path, data, true); err != nil {
			t.Fatal(err)
		}
		return path
	}
	all, _ := tlsutil.ParseClaimSpecs("ALL=rw")
	sdkBundle, err := ca.IssueClient(tlsutil.RoleSDK, tlsutil.ClientOptions{Claims: all})
	if err != nil {
		t.Fatal(err)
	}
	tcBundle, err := ca.IssueClient(tlsutil.RoleTC, tlsutil.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{
		"sdk":    write("client.pem", sdkBundle.Encode),
		"tc":     write("tc-client.pem", tcBundle.Encode),
		"server": write("server.pem", sb.Encode),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: server.StartOn(ln, mem.New(), server.Config{Security: server.Security{Bundle: sb}})}
	t.Cleanup(ts.stop)
	url := "https://" + ln.Addr().String()
	ctx := testCtx(t)

	sdkClient := newClient(t, url, sdk.WithBundle(paths["sdk"]))
	_, err = sdkClient.TCLeader(ctx)
	wantCode(t, "tc/leader with an SDK certificate", err, 403, api.CodeTCForbidden)
	if !errors.Is(err, sdk.ErrTCForbidden) {
		t.Fatalf("errors.Is(ErrTCForbidden) false for %v", err)
	}
	_, err = sdkClient.TxnReplay(ctx, unknownTxn)
	wantCode(t, "replay with an SDK certificate", err, 403, api.CodeTCForbidden)

	for _, who := range []string{"tc", "server"} {
		c := newClient(t, url, sdk.WithBundle(paths[who]))
		l, err := c.TCLeader(ctx)
		if err != nil || l.Term < 1 || l.LeaderEndpoint != url {
			t.Fatalf("%s: leader %+v %v", who, l, err)
		}
		_, err = c.TxnReplay(ctx, unknownTxn)
		wantCode(t, who+": replay unknown", err, 404, api.CodeTxnNotFound)
		// Registering a resource manager takes a server certificate.
		_, err = c.TCRMRegister(ctx, api.TCRMRegisterRequest{BackendHash: "h-" + who, Endpoint: url})
		if who == "server" && err != nil {
			t.Fatalf("%s: rm register: %v", who, err)
		}
		if who == "tc" {
			wantCode(t, "rm register with a TC client certificate", err, 403, api.CodeTCForbidden)
		}
	}
}
