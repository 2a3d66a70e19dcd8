package callergate

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
)

func TestParseAllowed(t *testing.T) {
	got, err := ParseAllowed(" CI@Acme.iam.gserviceaccount.com, domain:Acme.com ,")
	if err != nil || strings.Join(got, ",") != "ci@acme.iam.gserviceaccount.com,domain:acme.com" {
		t.Fatalf("ParseAllowed = %q, %v", got, err)
	}
	if got, err := ParseAllowed(""); got != nil || err != nil {
		t.Errorf("ParseAllowed(\"\") = %q, %v; want no allowlist", got, err)
	}
	for _, bad := range []string{"acme.com", "domain:acme", "domain:-x.com", "gh:repo:acme/*", "*", "domain:a..b"} {
		if _, err := ParseAllowed("ok@acme.com," + bad); err == nil || !strings.Contains(err.Error(), "[1]") {
			t.Errorf("ParseAllowed(%q) = %v; want an error naming entry [1]", bad, err)
		}
	}
}

func TestAllowlist(t *testing.T) {
	allowed, _ := ParseAllowed("ci@build.iam.gserviceaccount.com,domain:acme.com")
	g := New(Config{Allowed: allowed, IsAdmin: func(p connector.Principal) bool { return p.Email == "root@other.com" }})
	for _, tc := range []struct {
		p    connector.Principal
		want bool
	}{
		{connector.Principal{Email: "alice@acme.com"}, true},
		{connector.Principal{Email: "ci@build.iam.gserviceaccount.com"}, true},
		{connector.Principal{Email: "root@other.com"}, true}, // an admin
		{connector.Principal{Email: "mallory@evil.com"}, false},
		{connector.Principal{Email: "x@sub.acme.com"}, false},        // subdomains are not the domain
		{connector.Principal{Email: "x@acme.com.evil"}, false},       // nor are suffixes
		{connector.Principal{Issuer: "gh", Subject: "repo:x"}, true}, // federated callers are not on the list
	} {
		err := g.Admit("list", tc.p)
		if (err == nil) != tc.want || (err != nil && connector.KindOf(err) != connector.ErrPermission) {
			t.Errorf("Admit(%s) = %v; want allowed %v", tc.p, err, tc.want)
		}
	}
	if err := New(Config{}).Admit("list", connector.Principal{Email: "anyone@evil.com"}); err != nil {
		t.Errorf("Admit without an allowlist = %v", err)
	}
}

// TestRateLimit: a principal bursts PerMinute requests on a limited function, then waits
// 60/PerMinute seconds per request; other principals and unlimited functions are not held
// back, and idle buckets are forgotten.
func TestRateLimit(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := New(Config{PerMinute: 4, Limited: []string{"mint-token"}, Now: func() time.Time { return now }})
	ci := connector.Principal{Issuer: "gh", Subject: "repo:acme/x"}
	for i := range 4 {
		if err := g.Admit("mint-token", ci); err != nil {
			t.Fatalf("request %d of the burst = %v", i, err)
		}
	}
	err := g.Admit("mint-token", ci)
	var rl *RateLimited
	if !errors.As(err, &rl) || rl.Wait != 15*time.Second {
		t.Fatalf("5th request = %v; want rate limited for 15s", err)
	}
	if err := g.Admit("list", ci); err != nil {
		t.Errorf("an unlimited function = %v", err)
	}
	if err := g.Admit("mint-token", connector.Principal{Email: "other@acme.com"}); err != nil {
		t.Errorf("another principal = %v", err)
	}
	now = now.Add(15 * time.Second)
	if err := g.Admit("mint-token", ci); err != nil {
		t.Errorf("after 15 s = %v; want one more request", err)
	}
	if err := g.Admit("mint-token", ci); err == nil {
		t.Error("the request after that was admitted at once")
	}
	now = now.Add(2 * time.Minute)
	_ = g.Admit("mint-token", connector.Principal{Email: "third@acme.com"})
	if n := len(g.buckets); n != 1 {
		t.Errorf("buckets after two idle minutes = %d; want only the new caller's", n)
	}
}

// TestAdmitAllocatesNothing: admitting a known caller to a rate-limited function allocates
// nothing (the bucket is found by a struct key, not a joined string).
func TestAdmitAllocatesNothing(t *testing.T) {
	g := New(Config{PerMinute: 1 << 30, Limited: []string{"mint-token"}})
	p := connector.Principal{Email: "dev@example.com"}
	_ = g.Admit("mint-token", p)
	if n := testing.AllocsPerRun(100, func() { _ = g.Admit("mint-token", p) }); n != 0 {
		t.Errorf("Admit allocates %v times; want 0", n)
	}
}
