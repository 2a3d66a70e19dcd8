package callerauth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/emulator/fakegcp"
	"github.com/gcpconn/gcpconn/emulator/fakegcp/fakegcptest"
	"github.com/gcpconn/gcpconn/internal/testenv"
	"github.com/gcpconn/gcpconn/shared/callerauth"
	"github.com/gcpconn/gcpconn/shared/connector"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestAgainstFakeIssuer verifies ID tokens of the emulator's OIDC issuer, found through the
// environment the fake prints for gcpconn (GCPCONN_ISSUER, GCPCONN_JWKS_URL).
func TestAgainstFakeIssuer(t *testing.T) {
	srv := fakegcptest.Start(t, fakegcp.Options{})
	env := srv.EnvMap()
	if env["GCPCONN_ISSUER"] == "" || env["GCPCONN_JWKS_URL"] == "" {
		t.Fatalf("fake's Env() lacks GCPCONN_ISSUER or GCPCONN_JWKS_URL: %v", srv.Env())
	}
	const aud = "https://gcpconn.test"
	clock := time.Now()
	v := callerauth.New(callerauth.Config{Issuer: env["GCPCONN_ISSUER"], Audience: aud, JWKSURL: env["GCPCONN_JWKS_URL"],
		Now: func() time.Time { return clock }})
	tok, err := srv.IDToken("Alice@Example.com", aud)
	if err != nil {
		t.Fatalf("IDToken: %v", err)
	}
	p, err := v.Verify(context.Background(), tok)
	if err != nil || p.Email != "alice@example.com" {
		t.Fatalf("Verify(fake token) = %+v, %v; want alice@example.com", p, err)
	}

	other, err := srv.IDToken("alice@example.com", "https://elsewhere.test")
	if err != nil {
		t.Fatalf("IDToken: %v", err)
	}
	if _, err := v.Verify(context.Background(), other); connector.KindOf(err) != connector.ErrUnauthenticated {
		t.Errorf("Verify(token for another audience) = %v; want unauthenticated", err)
	}

	parts := strings.Split(tok, ".")
	sig := []byte(parts[2])
	sig[5] ^= 'A' ^ 'B'
	if _, err := v.Verify(context.Background(), parts[0]+"."+parts[1]+"."+string(sig)); connector.KindOf(err) != connector.ErrUnauthenticated {
		t.Errorf("Verify(tampered fake token) = %v; want unauthenticated", err)
	}

	clock = clock.Add(3 * time.Hour)
	if _, err := v.Verify(context.Background(), tok); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("Verify(fake token 3 h later) = %v; want expired", err)
	}

	googleIssuer := callerauth.New(callerauth.Config{Audience: aud, JWKSURL: env["GCPCONN_JWKS_URL"]})
	if _, err := googleIssuer.Verify(context.Background(), tok); connector.KindOf(err) != connector.ErrUnauthenticated {
		t.Errorf("Verify(fake token with Google's issuer expected) = %v; want unauthenticated", err)
	}
}
