package connector_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// External-account connectors whose tokens come from a subject token that callers send can
// be verified only with one: at registration the caller sends it (never stored), and sweep,
// which has no caller, skips them instead of marking them failed.

func ctExternalAccount() map[string]any {
	return map[string]any{
		"type":                              "external_account",
		"audience":                          "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/ci-pool/providers/ci-oidc",
		"subject_token_type":                "urn:ietf:params:oauth:token-type:jwt",
		"token_url":                         "https://sts.googleapis.com/v1/token",
		"service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/ci@demo-project.iam.gserviceaccount.com:generateAccessToken",
	}
}

func ctRegister(subjectToken string, verify bool) connector.RegisterRequest {
	return connector.RegisterRequest{
		Name: "ci", AuthMethod: configschema.ExternalAccount, ResourceType: resourceid.GCPGeneric,
		Configuration: map[string]any{"project_id": "demo-project", "external_account_json": ctExternalAccount()},
		Verify:        &verify, SubjectToken: subjectToken,
	}
}

func TestRegisterRecordsVerifiedStatus(t *testing.T) {
	for _, verify := range []bool{true, false} {
		s, _ := swService(t, &swGoogle{})
		c, _, err := s.Register(context.Background(), connector.Principal{Email: swOwner}, connector.RegisterRequest{
			Name: "sa", AuthMethod: configschema.ServiceAccount, Verify: &verify,
			Configuration: map[string]any{"project_id": "demo-project", "service_account_json": swDefaultKey(0)},
		})
		if err != nil {
			t.Fatalf("Register(verify=%v) = %v", verify, err)
		}
		stored, err := s.Store.Get(context.Background(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := connector.StateUnknown
		if verify {
			want = connector.StateOK
		}
		if stored.Status.State != want || stored.Status.CheckedAt.IsZero() == verify {
			t.Errorf("Register(verify=%v) stored status %+v; want state %q, checked_at set %v", verify, stored.Status, want, verify)
		}
	}
}

func TestCallerTokenConnectors(t *testing.T) {
	ctx := context.Background()
	owner := connector.Principal{Email: swOwner}
	g := &swGoogle{}
	var seen string
	g.TokenFunc = func(ctx context.Context, gr connector.Grant) (connector.Token, error) {
		if gr.Connector.AuthMethod == configschema.ExternalAccount {
			seen = connector.SubjectTokenFrom(ctx)
			if seen == "" {
				return connector.Token{}, errors.New("no subject token reached Google")
			}
		}
		return connector.Token{Value: "ya29.ok", Expiry: time.Now().Add(time.Hour)}, nil
	}
	s, _ := swService(t, g)

	_, _, err := s.Register(ctx, owner, ctRegister("", true))
	if connector.KindOf(err) != connector.ErrInvalid || connector.FieldOf(err) != "subject_token" {
		t.Fatalf("Register(external account, verify, no subject token) = %v; want invalid_argument on subject_token", err)
	}
	if n := g.Calls.Load(); n != 0 {
		t.Errorf("Register without a subject token called Google %d times; want 0", n)
	}

	c, _, err := s.Register(ctx, owner, ctRegister("oidc.subject.jwt", true))
	if err != nil {
		t.Fatalf("Register(external account, with a subject token) = %v", err)
	}
	if seen != "oidc.subject.jwt" {
		t.Errorf("Google saw subject token %q; want the caller's", seen)
	}
	if c.Status.State != connector.StateOK {
		t.Errorf("registered status = %+v; want ok", c.Status)
	}
	swRegister(t, s, "sa", 1, swDefaultKey)

	rep, err := keeper(s).Sweep(ctx, upkeep.SweepOptions{})
	if err != nil {
		t.Fatalf("Sweep = %v", err)
	}
	if rep.Checked != 1 || rep.Skipped != 1 || rep.Failed != 0 || len(rep.Errors) != 0 {
		t.Errorf("Sweep report = %+v; want the service account checked and the external account skipped", rep)
	}
	stored, err := s.Store.Get(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status != c.Status {
		t.Errorf("after sweep the external account's status = %+v; want it kept as %+v", stored.Status, c.Status)
	}
}
