package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --cluster-advertise (ours, not v0.9's) is read from the flag, its
// LOCKD_CLUSTER_ADVERTISE mirror and the config key cluster-advertise,
// reaches the server's cluster configuration, and is in the config
// template.
func TestClusterAdvertiseFlag(t *testing.T) {
	home := isolate(t)
	s, err := loadSettings([]string{"--cluster-listen", "10.0.0.1:7946", "--cluster-advertise", "203.0.113.7:17946"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cc := s.f.cluster.config(); cc == nil || cc.Advertise != "203.0.113.7:17946" || cc.Listen != "10.0.0.1:7946" {
		t.Fatalf("cluster config %+v", cc)
	}
	t.Setenv("LOCKD_CLUSTER_ADVERTISE", "203.0.113.8:1")
	if s, err = loadSettings([]string{"--join", "10.0.0.2:7946"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if cc := s.f.cluster.config(); cc == nil || cc.Advertise != "203.0.113.8:1" || s.source("cluster-advertise") != fromEnv {
		t.Fatalf("from the environment: %+v (source %s)", cc, s.source("cluster-advertise"))
	}
	os.Unsetenv("LOCKD_CLUSTER_ADVERTISE")
	writeFile(t, filepath.Join(home, ".lockd", "config.yaml"), "cluster-advertise: 203.0.113.9:2\njoin: 10.0.0.2:7946\n")
	if s, err = loadSettings(nil, io.Discard); err != nil {
		t.Fatal(err)
	}
	if cc := s.f.cluster.config(); cc == nil || cc.Advertise != "203.0.113.9:2" || s.source("cluster-advertise") != fromConfig {
		t.Fatalf("from the config file: %+v (source %s)", cc, s.source("cluster-advertise"))
	}
	fs, _ := serverFlags()
	data, err := configTemplate(fs)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "cluster-advertise:") || !strings.Contains(string(data), "not a lockd v0.9 flag") {
		t.Fatal("the config template lacks cluster-advertise")
	}
}
