package testservers

import (
	"net"
	"testing"
)

// TestSharedLifecycle checks that overlapping users share one process and
// that the last user's cleanup stops it and frees its port.
func TestSharedLifecycle(t *testing.T) {
	for name, srv := range map[string]*shared{"versitygw": versitygw, "azurite": azurite} {
		t.Run(name, func(t *testing.T) {
			var p *proc
			t.Run("users", func(t *testing.T) {
				p = srv.acquire(t)
				t.Run("nested", func(t *testing.T) {
					if q := srv.acquire(t); q != p {
						t.Fatal("second user got another process")
					}
				})
				select {
				case <-p.done:
					t.Fatal("server stopped while still in use")
				default:
				}
			})
			select {
			case <-p.done:
			default:
				t.Fatal("server still running after its last user")
			}
			if srv.p != nil {
				t.Fatal("shared server not reset")
			}
			if c, err := net.Dial("tcp", p.addr); err == nil {
				c.Close()
				t.Fatalf("%s still accepts connections", p.addr)
			}
		})
	}
}

func TestStartS3FreshBuckets(t *testing.T) {
	e1, _, _, b1 := StartS3(t)
	e2, _, _, b2 := StartS3(t)
	if e1 != e2 || b1 == b2 {
		t.Fatalf("endpoints %s %s, buckets %s %s: want one server, two buckets", e1, e2, b1, b2)
	}
	NewS3Store(t)
}

func TestStartAzurite(t *testing.T) {
	if e1, e2 := StartAzurite(t), StartAzurite(t); e1 != e2 {
		t.Fatalf("endpoints %s %s: want one server", e1, e2)
	}
	NewAzureStore(t)
}
