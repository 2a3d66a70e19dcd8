package connector_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/credjson/credjsontest"
	"github.com/gcpconn/gcpconn/shared/internal/standin"
	"github.com/gcpconn/gcpconn/shared/resourceid"
)

// TestRotationSource: a key rotation starts from the pinned key's grant and account, and
// only for an enabled connector that holds a key gcpconn can replace (service-account, or
// impersonation from a key); others are refused with failed_precondition saying why.
func TestRotationSource(t *testing.T) {
	ctx := context.Background()
	s, _ := swService(t, &standin.Google{})
	s.Policy.AllowImplicit = true // keyless impersonation
	owner := connector.Principal{Email: swOwner}
	register := func(name string, m configschema.AuthMethod, cfg map[string]any) *connector.Connector {
		t.Helper()
		cfg["project_id"] = "demo-project"
		c, _, err := s.Register(ctx, owner, connector.RegisterRequest{Name: name, AuthMethod: m,
			ResourceType: resourceid.GCPGeneric, Configuration: cfg, Verify: new(bool)})
		if err != nil {
			t.Fatalf("Register(%s) = %v", name, err)
		}
		return c
	}
	const email = "sa@demo-project.iam.gserviceaccount.com"
	sa := register("sa", configschema.ServiceAccount, map[string]any{"service_account_json": swKeyJSON(email)})
	g, got, err := s.RotationSource(ctx, sa)
	if err != nil || got != email || g.Connector.ID != sa.ID || g.Secrets.ServiceAccountJSON == "" {
		t.Errorf("RotationSource(service-account) = %q, %v; want its key's account %s", got, err, email)
	}
	for _, tc := range []struct {
		c    *connector.Connector
		want string
	}{
		{register("user", configschema.UserAccount, map[string]any{"user_account_json": credjsontest.AuthorizedUser(nil)}), "user-account refresh tokens cannot be rotated"},
		{register("keyless", configschema.Impersonation, map[string]any{"target_principal": email}), "keyless impersonation"},
	} {
		if _, _, err := s.RotationSource(ctx, tc.c); connector.KindOf(err) != connector.ErrFailedPrecondition || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("RotationSource(%s) = %v; want failed_precondition saying %q", tc.c.Name, err, tc.want)
		}
	}
	if err := s.Disable(ctx, sa, "the pinned secret version was destroyed"); err != nil {
		t.Fatalf("Disable = %v", err)
	}
	sa, _ = s.Store.Get(ctx, sa.ID)
	if _, _, err := s.RotationSource(ctx, sa); connector.KindOf(err) != connector.ErrFailedPrecondition || !strings.Contains(err.Error(), "is disabled") {
		t.Errorf("RotationSource(disabled) = %v; want failed_precondition saying it is disabled", err)
	}
}
