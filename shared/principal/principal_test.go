package principal

import (
	"strings"
	"testing"
)

func TestCheckPattern(t *testing.T) {
	issuers := []string{"ci", "github"}
	for _, tc := range []struct {
		in, want string
		err      string // substring of the error; "" means accepted
	}{
		{in: "Alice@Example.com", want: "alice@example.com"},
		{in: "github:repo:Acme/Pipelines:ref:refs/heads/main", want: "github:repo:Acme/Pipelines:ref:refs/heads/main"},
		{in: "github:repo:acme/pipelines:*", want: "github:repo:acme/pipelines:*"},
		{in: "ci:*", want: "ci:*"},
		{in: "github:repo:acme/*", want: "github:repo:acme/*"},
		{in: "github:repo:acme/lib*", err: `"github:repo:acme/lib*": a glob must end at a separator`},
		{in: "github:repo:acme*", err: `a glob must end at a separator: the * follows ':' or '/'`},
		{in: "ci:repo:acme/pipelines:ref:refs/heads/ma*", err: "a glob must end at a separator"},
		{in: "other:repo:x", err: `names issuer "other", which is not a configured trusted issuer (configured: ci, github)`},
		{in: "nope:repo:x", err: `names issuer "nope", which is not a configured trusted issuer`},
		{in: "*", err: "a bare * would admit every caller"},
		{in: "other:repo:*", err: `names issuer "other", which is not a configured trusted issuer (configured: ci, github)`},
		{in: "alice*", err: "globs are accepted only on a trusted issuer's subjects"},
		{in: "alice", err: "is not an email address"},
		{in: "ci:", err: "has no subject"},
		{in: "ci:repo:*:ref", err: "not at the end"},
		{in: "ci:a*b*", err: "not at the end"},
		{in: "ci:a b", err: "whitespace"},
		{in: "ci:a\x00", err: "control character"},
		{in: "CI:repo:x", err: "must start with a lowercase letter"},
		{in: "google:x", err: `"google" names Google's own callers`},
		{in: ":x", err: "1 to 32 characters"},
		{in: "ci:" + strings.Repeat("x", MaxLen), err: "longer than"},
	} {
		got, err := CheckPattern(tc.in, issuers)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("CheckPattern(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("CheckPattern(%q) error = %v; want it to contain %q", tc.in, err, tc.err)
		}
	}
}

func TestPrincipalMatches(t *testing.T) {
	google := Principal{Email: "alice@example.com"}
	main := Principal{Issuer: "ci", Subject: "repo:acme/pipelines:ref:refs/heads/main"}
	spoofEmail := Principal{Issuer: "ci", Subject: "alice@example.com"}
	for _, tc := range []struct {
		p       Principal
		pattern string
		want    bool
	}{
		{google, "alice@example.com", true},
		{google, "ALICE@example.com", true},
		{google, "bob@example.com", false},
		{google, "ci:alice@example.com", false},
		{google, "ci:*", false},
		{main, "ci:repo:acme/pipelines:ref:refs/heads/main", true},
		{main, "ci:repo:acme/pipelines:*", true},
		{main, "ci:*", true},
		{main, "ci:repo:ACME/pipelines:ref:refs/heads/main", false}, // subjects are case-sensitive
		{main, "ci:repo:acme/pipelines:ref:refs/heads/dev", false},
		{main, "ci:repo:acme/other:*", false},
		{main, "ci:repo:acme/*", true},
		// Globs stored before the separator rule match nobody, so they never widen access.
		{main, "ci:repo:acme/pipe*", false},
		{main, "ci:repo:acme*", false},
		{main, "ci:repo:acme/pipelines:ref:refs/heads/ma*", false},
		{main, "gh:repo:acme/pipelines:ref:refs/heads/main", false}, // another issuer's subject
		{main, "repo:acme/pipelines:ref:refs/heads/main", false},
		{spoofEmail, "alice@example.com", false}, // a subject never passes for an email
		{spoofEmail, "ci:alice@example.com", true},
		{Principal{Email: "ci:x"}, "ci:x", false}, // an "email" with a colon is no principal at all
		{Principal{}, "", false},
	} {
		if got := tc.p.Matches(tc.pattern); got != tc.want {
			t.Errorf("%+v.Matches(%q) = %v; want %v", tc.p, tc.pattern, got, tc.want)
		}
	}
	// An owner is exact: a subject that ends in * is not a glob there.
	if (Principal{Issuer: "ci", Subject: "repo:acme/pipelines:ref:x"}).Is("ci:repo:acme/pipelines:*") {
		t.Error("Is expanded a glob; owners must match exactly")
	}
}
