package edge

import "testing"

func TestHeaderSetsIgnoreCase(t *testing.T) {
	cases := []struct {
		name string
		set  []string
		want bool
	}{
		{"host", hopHeaders, true},
		{"HOST", hopHeaders, true},
		{"content-length", hopHeaders, true},
		{"Transfer-Encoding", relayHeaders, true},
		{"TE", hopHeaders, true},
		{"Tf", hopHeaders, false},
		{"Content-Type", hopHeaders, false},
		{"X-Correlation-Id", hopHeaders, false},
		{"Fencing-Token", relayHeaders, false},
		{"Hosts", hopHeaders, false},
		{"", hopHeaders, false},
	}
	for _, c := range cases {
		if got := inSet(c.set, []byte(c.name)); got != c.want {
			t.Errorf("inSet(%q) = %v, want %v", c.name, got, c.want)
		}
	}
	for _, h := range hopHeaders {
		for _, v := range []string{h, toUpper(h)} {
			if !inSet(hopHeaders, []byte(v)) {
				t.Errorf("inSet(hopHeaders, %q) = false", v)
			}
		}
	}
}

func toUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}
