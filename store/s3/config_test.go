package s3

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseURL(t *testing.T) {
	env := map[string]string{
		"LOCKD_S3_ROOT_USER": "root", "LOCKD_S3_ROOT_PASSWORD": "rootpw",
		"LOCKD_AWS_REGION": "eu-west-1", "AWS_REGION": "us-west-2",
	}
	withKeys := map[string]string{
		"LOCKD_S3_ACCESS_KEY_ID": "id", "LOCKD_S3_SECRET_ACCESS_KEY": "secret",
		"LOCKD_S3_ROOT_USER": "root", "LOCKD_S3_ROOT_PASSWORD": "rootpw",
	}
	for _, tc := range []struct {
		url  string
		env  map[string]string
		want Config
	}{
		{"s3://localhost:9000/lockd-data?insecure=1", env, Config{
			Endpoint: "localhost:9000", Bucket: "lockd-data", Insecure: true, PathStyle: true,
			AccessKeyID: "root", SecretAccessKey: "rootpw"}},
		{"s3://s3.example.com/bkt/a/b/", withKeys, Config{
			Endpoint: "s3.example.com", Bucket: "bkt", Prefix: "a/b", PathStyle: true,
			AccessKeyID: "id", SecretAccessKey: "secret"}},
		{"s3://h:1/b/p?path_style=0&region=r1&sse=aws:kms&kms_key_id=k1&part_size=8388608", nil, Config{
			Endpoint: "h:1", Bucket: "b", Prefix: "p", Region: "r1", SSE: SSEKMS, KMSKeyID: "k1", PartSize: 8 << 20}},
		{"aws://my-bucket/prefix", env, Config{Bucket: "my-bucket", Prefix: "prefix", Region: "eu-west-1"}},
		{"aws://my-bucket", map[string]string{"AWS_REGION": "us-west-2"}, Config{Bucket: "my-bucket", Region: "us-west-2"}},
		{"aws://my-bucket?region=ap-south-1&sse=AES256", env, Config{Bucket: "my-bucket", Region: "ap-south-1", SSE: SSES3}},
	} {
		got, err := parseURL(tc.url, func(k string) string { return tc.env[k] })
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseURL(%q):\n got %+v %v\nwant %+v", tc.url, got, err, tc.want)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, u := range []string{
		"s3://", "s3://host:9000", "s3://host:9000/", "aws:///prefix", "gs://b/p",
		"s3://h/b?insecure=maybe", "aws://b?insecure=1", "s3://h/b?bogus=1",
		"s3://user:pw@h/b", "s3://h/b?part_size=x", "%",
	} {
		if _, err := parseURL(u, func(string) string { return "" }); !errors.Is(err, ErrConfig) {
			t.Errorf("parseURL(%q): %v, want ErrConfig", u, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{},
		{Bucket: "b", SSE: "rot13"},
		{Bucket: "b", KMSKeyID: "k"},
		{Bucket: "b", PartSize: 1 << 20},
		{Bucket: "b", AccessKeyID: "id"},
	} {
		c.setDefaults()
		if err := c.validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("validate(%+v): %v, want ErrConfig", c, err)
		}
	}
	c := Config{Bucket: "b", Endpoint: "h:1"}
	c.setDefaults()
	if err := c.validate(); err != nil || c.Region != DefaultRegion || c.PartSize != DefaultPartSize || c.MaxAttempts != DefaultMaxAttempts {
		t.Errorf("defaults: %+v %v", c, err)
	}
}
