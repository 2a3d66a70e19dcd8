package input

import (
	"strings"
	"testing"
)

func TestFieldChecks(t *testing.T) {
	tests := []struct {
		check func(string) error
		name  string
		in    string
		want  string // "" for accepted, else a part of the message
	}{
		{LabelKey, "plain key", "team", ""},
		{LabelKey, "prefixed key", "example.com/team", ""},
		{LabelKey, "empty prefix", "/team", "the prefix before / must be a DNS subdomain of 1 to 253 characters"},
		{LabelKey, "uppercase prefix", "Example.com/team", "lowercase DNS subdomain"},
		{LabelKey, "bad name after prefix", "example.com/-x", "start and end with a letter or digit"},
		{LabelName, "mixed case", "Prod_1.a", ""},
		{LabelName, "empty", "", "the name is empty"},
		{LabelName, "long", strings.Repeat("a", 64), "longer than 63 characters"},
		{LabelName, "space", "a b", "only letters, digits"},
		{Email, "email", "Ann.B+x@Example.com", ""},
		{Email, "two @", "a@b@c.com", "exactly one @"},
		{Email, "no local part", "@c.com", "1 to 64 characters"},
		{Email, "double dot", "a..b@c.com", "two in a row"},
		{Email, "bad character", "a(b@c.com", "not allowed"},
		{Email, "no dot in domain", "a@localhost", "must have a dot"},
		{Email, "bad domain", "a@-x.com", "DNS name"},
		{Email, "too long", strings.Repeat("a", 250) + "@c.com", "longer than 254"},
		{func(s string) error { return Text(s, 8) }, "text", "a\tb\nc", ""},
		{func(s string) error { return Text(s, 8) }, "too long", "123456789", "is 9 bytes; at most 8 are accepted"},
		{func(s string) error { return Text(s, 8) }, "invalid UTF-8", "\xff", "not valid UTF-8"},
		{func(s string) error { return Text(s, 8) }, "control", "a\x00", "control characters"},
	}
	for _, tt := range tests {
		err := tt.check(tt.in)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s %q: %v; want accepted", tt.name, tt.in, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s %q: %v; want an error containing %q", tt.name, tt.in, err, tt.want)
		}
	}
}
