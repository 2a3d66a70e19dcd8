package callerauth_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcpconn/gcpconn/shared/callerauth"
	"github.com/gcpconn/gcpconn/shared/callerauth/callerauthtest"
	"github.com/gcpconn/gcpconn/shared/connector"
)

// TestKeyRotationAgainstLoopbackIssuer runs the key-set rules in a synctest bubble against a
// real issuer on loopback (discovery and JWKS served by callerauthtest.Federated, outside the
// bubble; the client keeps no idle connections, so nothing in the bubble waits on the network
// between requests and the bubble's clock moves only when the test sleeps). A key published
// 3 s after the last fetch is a 503 with Retry-After 7 s; 7 s later it is fetched and
// accepted; a key set that answers 500 keeps the known keys in use and backs off.
func TestKeyRotationAgainstLoopbackIssuer(t *testing.T) {
	ci := callerauthtest.NewFederated(t)
	ci.NewKey(t, "k2")
	const aud = "https://gcpconn.test"
	synctest.Test(t, func(t *testing.T) {
		issuers, err := callerauth.ParseIssuers(ci.Config("ci", aud))
		if err != nil {
			t.Fatal(err)
		}
		v := callerauth.New(callerauth.Config{Audience: aud, Issuers: issuers,
			Client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}})
		verify := func(kid string) error {
			_, err := v.Verify(context.Background(), ci.Sign(t, kid, ci.Claims(aud, time.Now(), "")))
			return err
		}
		if err := verify("k1"); err != nil {
			t.Fatalf("Verify(k1) = %v", err)
		}
		ci.Publish("k2")
		time.Sleep(3 * time.Second)
		var ce *connector.Error
		if err := verify("k2"); !errors.As(err, &ce) || ce.Kind != connector.ErrUpstreamUnavailable || ce.RetryAfter != 7*time.Second {
			t.Fatalf("Verify(new key k2) 3 s after the fetch = %v; want upstream_unavailable, retry after 7s", err)
		}
		time.Sleep(7 * time.Second)
		if err := verify("k2"); err != nil {
			t.Fatalf("Verify(k2) after the refetch limit = %v", err)
		}
		if n := ci.JWKSHits.Load(); n != 2 {
			t.Errorf("JWKS fetches = %d; want 2", n)
		}
		ci.FailJWKS(http.StatusInternalServerError)
		time.Sleep(time.Hour) // the keys are stale: served while the refresh fails
		for range 3 {
			if err := verify("k1"); err != nil {
				t.Fatalf("Verify(k1) with stale keys and the issuer failing = %v", err)
			}
			synctest.Wait()
		}
		if n := ci.JWKSHits.Load(); n != 3 {
			t.Errorf("JWKS fetches after three verifications in the same instant = %d; want 3 (one refresh, then backing off)", n)
		}
	})
}
