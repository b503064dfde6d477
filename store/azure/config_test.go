package azure

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseURL(t *testing.T) {
	key := map[string]string{"LOCKD_AZURE_ACCOUNT_KEY": "k=="}
	for _, tc := range []struct {
		url  string
		env  map[string]string
		want Config
	}{
		{"azure://acct/ctr", key, Config{Account: "acct", Container: "ctr", AccountKey: "k=="}},
		{"azure://acct/ctr/a/b/", map[string]string{"LOCKD_AZURE_SAS_TOKEN": "sv=1&sig=x"},
			Config{Account: "acct", Container: "ctr", Prefix: "a/b", SASToken: "sv=1&sig=x"}},
		{"azure://devstoreaccount1/c/p?endpoint=http://127.0.0.1:10000/devstoreaccount1&block_size=2097152", key,
			Config{Account: "devstoreaccount1", Container: "c", Prefix: "p", AccountKey: "k==",
				Endpoint: "http://127.0.0.1:10000/devstoreaccount1", BlockSize: 2 << 20}},
		{"azure:///ctr/p", map[string]string{"AZURE_STORAGE_ACCOUNT": "envacct"},
			Config{Account: "envacct", Container: "ctr", Prefix: "p"}},
	} {
		got, err := parseURL(tc.url, func(k string) string { return tc.env[k] })
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseURL(%q):\n got %+v %v\nwant %+v", tc.url, got, err, tc.want)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, u := range []string{
		"azure://acct", "azure://acct/", "azure:///ctr", "s3://a/b", "azure://a/c?endpoint=ftp://x",
		"azure://a/c?endpoint=notaurl", "azure://a/c?bogus=1", "azure://a/c?block_size=x", "azure://u:p@a/c", "%",
	} {
		if _, err := parseURL(u, func(string) string { return "" }); !errors.Is(err, ErrConfig) {
			t.Errorf("parseURL(%q): %v, want ErrConfig", u, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{},
		{Account: "a"},
		{Account: "a", Container: "c"},
		{Account: "a", Container: "c", AccountKey: "k", SASToken: "s"},
		{Account: "a", Container: "c", AccountKey: "k", BlockSize: 1000},
	} {
		c.setDefaults()
		if err := c.validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("validate(%+v): %v, want ErrConfig", c, err)
		}
	}
	c := Config{Account: "a", Container: "c", SASToken: "?sv=1"}
	c.setDefaults()
	if err := c.validate(); err != nil || c.Endpoint != "https://a.blob.core.windows.net" || c.SASToken != "sv=1" {
		t.Errorf("defaults: %+v %v", c, err)
	}
}
