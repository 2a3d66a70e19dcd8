package connector

import "testing"

// TestAuthorizeFederated checks the rules for federated owners, users and admins on the
// core (the HTTP matrix repeats them over the wire).
func TestAuthorizeFederated(t *testing.T) {
	s := &Service{Policy: Policy{Admins: []string{"ops:team/*", "root@example.com"}, Issuers: []string{"ci", "ops"}}}
	c := &Connector{Owner: "ci:repo:acme/infra:ref:refs/heads/main", Users: []string{"ci:repo:acme/pipelines:*", "bob@example.com"}}
	for _, tc := range []struct {
		p                Principal
		read, use, admin bool
	}{
		{Principal{Issuer: "ci", Subject: "repo:acme/infra:ref:refs/heads/main"}, true, true, true},      // owner
		{Principal{Issuer: "ci", Subject: "repo:acme/infra:ref:refs/heads/dev"}, false, false, false},    // other ref
		{Principal{Issuer: "ci", Subject: "repo:acme/pipelines:ref:refs/heads/x"}, true, true, false},    // user by glob
		{Principal{Issuer: "ops", Subject: "team/sre"}, true, true, true},                                // admin by glob
		{Principal{Issuer: "ops", Subject: "repo:acme/pipelines:ref:refs/heads/x"}, false, false, false}, // same subject, other issuer
		{Principal{Email: "bob@example.com"}, true, true, false},
		{Principal{Issuer: "ci", Subject: "bob@example.com"}, false, false, false}, // subject spoofing an email
		{Principal{Email: "root@example.com"}, true, true, true},
	} {
		got := []bool{s.may(tc.p, c, actionRead), s.may(tc.p, c, actionUse), s.may(tc.p, c, actionAdmin)}
		if got[0] != tc.read || got[1] != tc.use || got[2] != tc.admin {
			t.Errorf("%s: read, use, admin = %v; want %v, %v, %v", tc.p, got, tc.read, tc.use, tc.admin)
		}
	}
}
