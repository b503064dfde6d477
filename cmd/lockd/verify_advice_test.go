package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/lockdhq/lockd/server"
)

func TestAdviceGivesAValidIAMPolicy(t *testing.T) {
	var out bytes.Buffer
	advise(&out, "s3://minio:9000/lockd-data/prod?insecure=1", server.StoreOptions{S3SSE: "aws:kms"}, true)
	text := out.String()
	if !strings.Contains(text, "conditional writes") {
		t.Fatalf("no conditional-write diagnosis:\n%s", text)
	}
	i := strings.Index(text, "{")
	var policy struct {
		Statement []struct {
			Action   []string
			Resource string
		}
	}
	if err := json.Unmarshal([]byte(text[i:]), &policy); err != nil {
		t.Fatalf("policy is not JSON: %v\n%s", err, text[i:])
	}
	if len(policy.Statement) != 3 || policy.Statement[1].Resource != "arn:aws:s3:::lockd-data/prod/*" {
		t.Fatalf("policy %+v", policy)
	}
	out.Reset()
	advise(&out, "aws://bucket", server.StoreOptions{}, false)
	if !strings.Contains(out.String(), `"arn:aws:s3:::bucket/*"`) || strings.Contains(out.String(), "kms:") {
		t.Fatalf("aws policy:\n%s", out.String())
	}
}
