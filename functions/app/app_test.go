package app

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/internal/testenv"
	"github.com/gcpconn/gcpconn/shared/cloudlog"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/gcp"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func envOf(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

func TestConfigFromEnv(t *testing.T) {
	cfg, err := ConfigFromEnv(envOf(map[string]string{
		"GCPCONN_AUDIENCE": "https://gcpconn.test", "GCPCONN_ADMINS": " Admin@Example.com, ops@example.com ,",
		"GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS": "true", "GCPCONN_MAX_BODY_BYTES": "4096", "GCPCONN_SWEEP_CONCURRENCY": "8",
		"GCPCONN_SWEEP_MAX_ROTATIONS": "3", "GCPCONN_ENDPOINT_OAUTH2": "http://127.0.0.1:9/", "GCPCONN_ENDPOINT_SECRETMANAGER": "http://127.0.0.1:8",
	}))
	if err != nil {
		t.Fatalf("ConfigFromEnv = %v", err)
	}
	if cfg.Store != StoreMemory || cfg.FirestoreDatabase != "(default)" || cfg.Issuer != "https://accounts.google.com" ||
		!cfg.AllowImplicit || cfg.MaxBodyBytes != 4096 || cfg.SweepConcurrency != 8 || cfg.SweepMaxRotations != 3 ||
		strings.Join(cfg.Admins, ",") != "admin@example.com,ops@example.com" ||
		cfg.Endpoints.OAuth2 != "http://127.0.0.1:9" || cfg.SecretManagerEndpoint != "http://127.0.0.1:8" {
		t.Errorf("ConfigFromEnv = %+v", cfg)
	}

	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no audience", map[string]string{}, "GCPCONN_AUDIENCE"},
		{"bad store", map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_STORE": "disk"}, "GCPCONN_STORE"},
		{"google without project", map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_STORE": "google"}, "GCPCONN_PROJECT"},
		{"bad bool", map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS": "yes please"}, "GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS"},
		{"bad body cap", map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_MAX_BODY_BYTES": "12"}, "GCPCONN_MAX_BODY_BYTES"},
		{"bad concurrency", map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_SWEEP_CONCURRENCY": "0"}, "GCPCONN_SWEEP_CONCURRENCY"},
		{"bad rotation cap", map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_SWEEP_MAX_ROTATIONS": "0"}, `GCPCONN_SWEEP_MAX_ROTATIONS="0" is not a number from 1 to 1000`},
		{"bad window", map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_REVOCATION_WINDOW": "soon"}, "GCPCONN_REVOCATION_WINDOW"},
		{"negative window", map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_REVOCATION_WINDOW": "-1s"}, "GCPCONN_REVOCATION_WINDOW"},
		{"window too long", map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_REVOCATION_WINDOW": "1h"}, "GCPCONN_REVOCATION_WINDOW"},
		{"bad key age", map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_MAX_KEY_AGE": "old"}, "GCPCONN_MAX_KEY_AGE"},
		{"key age too short", map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_MAX_KEY_AGE": "2h"}, "GCPCONN_MAX_KEY_AGE"},
		{"key age in bad days", map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_MAX_KEY_AGE": "-3d"}, "GCPCONN_MAX_KEY_AGE"},
		{"timeout not a number", map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_TIMEOUT_SECONDS": "1m"}, `GCPCONN_TIMEOUT_SECONDS="1m" is not a number of seconds from 1 to 3600`},
		{"timeout zero", map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_TIMEOUT_SECONDS": "0"}, `GCPCONN_TIMEOUT_SECONDS="0"`},
		{"sweep topic not a topic", map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_SWEEP_TOPIC": "gcpconn-sweep"}, `GCPCONN_SWEEP_TOPIC="gcpconn-sweep" is not a topic name projects/PROJECT/topics/TOPIC`},
		{"unknown rotation identity", map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_ROTATION_IDENTITY": "runtime"}, `GCPCONN_ROTATION_IDENTITY="runtime" is not connector or service`},
		{"rotation identity in capitals", map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_ROTATION_IDENTITY": "Service"}, `GCPCONN_ROTATION_IDENTITY="Service" is not connector or service`},
		{"issuers not JSON", map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_TRUSTED_ISSUERS": "ci=https://ci"}, "GCPCONN_TRUSTED_ISSUERS: want a JSON array"},
		{"issuer without audiences", map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_TRUSTED_ISSUERS": `[{"name":"ci","issuer":"https://ci.example"}]`}, `GCPCONN_TRUSTED_ISSUERS[0] "ci": audiences`},
		{"admin glob on an unknown issuer", map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_ADMINS": "x@example.com,gh:repo:acme/*"}, `GCPCONN_ADMINS[1] "gh:repo:acme/*" names issuer "gh", which is not a configured trusted issuer`},
		{"admin on an unknown issuer", map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_ADMINS": "nope:repo:x"}, `GCPCONN_ADMINS[0] "nope:repo:x" names issuer "nope", which is not a configured trusted issuer`},
		{"admin glob that crosses a boundary", map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_ADMINS": "github:repo:acme*",
			"GCPCONN_TRUSTED_ISSUERS": `[{"name":"github","issuer":"https://token.actions.githubusercontent.com","audiences":["a"],"bound_claims":{"repository_owner_id":"1"}}]`},
			`GCPCONN_ADMINS[0] "github:repo:acme*": a glob must end at a separator`},
		{"issuer without bound claims", map[string]string{"GCPCONN_AUDIENCE": "a",
			"GCPCONN_TRUSTED_ISSUERS": `[{"name":"github","issuer":"https://token.actions.githubusercontent.com","audiences":["a"]}]`},
			`GCPCONN_TRUSTED_ISSUERS[0] "github": bound_claims: bind at least one claim`},
		{"allowed callers", map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_ALLOWED_CALLERS": "ok@acme.com,acme.com"}, `GCPCONN_ALLOWED_CALLERS[1] "acme.com"`},
		{"rate limit", map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_RATE_LIMIT": "fast"}, `GCPCONN_RATE_LIMIT="fast"`},
		{"admin bare star", map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_ADMINS": "*"}, "GCPCONN_ADMINS[0] \"*\": a bare *"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ConfigFromEnv(envOf(tc.env)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ConfigFromEnv(%v) = %v; want an error naming %s", tc.env, err, tc.want)
			}
		})
	}
}

func TestRevocationWindowConfig(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want time.Duration
	}{
		{"", connector.DefaultRevocationWindow}, {"0", 0}, {"0s", 0}, {"45", 45 * time.Second}, {"2m", 2 * time.Minute},
	} {
		cfg, err := ConfigFromEnv(envOf(map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_REVOCATION_WINDOW": tc.env}))
		if err != nil || cfg.RevocationWindow != tc.want {
			t.Errorf("GCPCONN_REVOCATION_WINDOW=%q: window %v, %v; want %v", tc.env, cfg.RevocationWindow, err, tc.want)
			continue
		}
		svc, err := New(cfg, nil, cloudlog.New(&bytes.Buffer{}, nil)).Service()
		if err != nil || svc.RevocationWindow != tc.want {
			t.Errorf("GCPCONN_REVOCATION_WINDOW=%q: service window %v, %v; want %v", tc.env, svc.RevocationWindow, err, tc.want)
		}
	}
}

// TestTimeoutConfig: GCPCONN_TIMEOUT_SECONDS (the function's timeout, set per function by the
// deploy manifest) becomes the API's FunctionTimeout, which bounds every request.
func TestTimeoutConfig(t *testing.T) {
	for env, want := range map[string]time.Duration{"": 0, "540": 540 * time.Second, "60": time.Minute} {
		cfg, err := ConfigFromEnv(envOf(map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_TIMEOUT_SECONDS": env}))
		if err != nil || cfg.Timeout != want {
			t.Errorf("GCPCONN_TIMEOUT_SECONDS=%q: %v, %v; want %v", env, cfg.Timeout, err, want)
			continue
		}
		if a := New(cfg, nil, cloudlog.New(&bytes.Buffer{}, nil)); a.API.FunctionTimeout != want {
			t.Errorf("GCPCONN_TIMEOUT_SECONDS=%q: API.FunctionTimeout = %v; want %v", env, a.API.FunctionTimeout, want)
		}
	}
}

// TestSweepWiring: the service keeps sweep runs; without GCPCONN_SWEEP_TOPIC its shards run
// in the process (LocalShards, with the deployment's sweep defaults), with it they are
// published to the topic.
func TestSweepWiring(t *testing.T) {
	cfg, err := ConfigFromEnv(envOf(map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_MAX_KEY_AGE": "90d"}))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(cfg, nil, cloudlog.New(&bytes.Buffer{}, nil)).Keeper()
	if err != nil {
		t.Fatal(err)
	}
	local, ok := svc.Shards.(upkeep.LocalShards)
	if svc.Runs == nil || !ok || local.Keeper != svc || local.Options.MaxKeyAge != 90*24*time.Hour {
		t.Errorf("memory deployment: runs %v, shards %#v; want runs kept and local shards with the sweep defaults", svc.Runs, svc.Shards)
	}
	cfg.SweepTopic = "projects/p/topics/gcpconn-sweep"
	svc, err = New(cfg, nil, cloudlog.New(&bytes.Buffer{}, nil)).Keeper()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := svc.Shards.(*store.PubSubShards); !ok {
		t.Errorf("with GCPCONN_SWEEP_TOPIC: shards %T; want *store.PubSubShards", svc.Shards)
	}
}

// TestMaxKeyAgeConfig: GCPCONN_MAX_KEY_AGE reaches sweep's defaults, and the service built
// for the deployment rotates keys (a key manager and a secret store with rotation schedules).
func TestMaxKeyAgeConfig(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want time.Duration
	}{
		{"", 0}, {"90d", 90 * 24 * time.Hour}, {"2160h", 90 * 24 * time.Hour}, {"1d", 24 * time.Hour},
	} {
		cfg, err := ConfigFromEnv(envOf(map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_MAX_KEY_AGE": tc.env}))
		if err != nil || cfg.MaxKeyAge != tc.want {
			t.Errorf("GCPCONN_MAX_KEY_AGE=%q: %v, %v; want %v", tc.env, cfg.MaxKeyAge, err, tc.want)
			continue
		}
		a := New(cfg, nil, cloudlog.New(&bytes.Buffer{}, nil))
		if a.API.SweepDefaults.MaxKeyAge != tc.want {
			t.Errorf("GCPCONN_MAX_KEY_AGE=%q: sweep's MaxKeyAge = %v; want %v", tc.env, a.API.SweepDefaults.MaxKeyAge, tc.want)
		}
		svc, err := a.Keeper()
		if err != nil {
			t.Fatal(err)
		}
		if svc.Keys == nil || svc.Secrets == nil || svc.Rotator != svc {
			t.Errorf("service: Keys = %v, secrets %T, rotator %T; want both and the keeper as the core's rotator (key rotation wired)", svc.Keys, svc.Secrets, svc.Rotator)
		}
	}
}

// TestRotationIdentityConfig: GCPCONN_ROTATION_IDENTITY (connector unless set) reaches the
// key manager of the service built for the deployment.
func TestRotationIdentityConfig(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want gcp.RotationIdentity
	}{
		{"", gcp.RotateAsConnector}, {"connector", gcp.RotateAsConnector}, {"service", gcp.RotateAsService}, {" service ", gcp.RotateAsService},
	} {
		cfg, err := ConfigFromEnv(envOf(map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_ROTATION_IDENTITY": tc.env}))
		if err != nil || cfg.RotationIdentity != tc.want {
			t.Errorf("GCPCONN_ROTATION_IDENTITY=%q: %q, %v; want %q", tc.env, cfg.RotationIdentity, err, tc.want)
			continue
		}
		svc, err := New(cfg, nil, cloudlog.New(&bytes.Buffer{}, nil)).Keeper()
		if err != nil {
			t.Fatal(err)
		}
		g, ok := svc.Keys.(*gcp.Google)
		if !ok || g.RotationIdentity() != tc.want {
			t.Errorf("GCPCONN_ROTATION_IDENTITY=%q: the service's key manager is %T; want a *gcp.Google rotating as %q", tc.env, svc.Keys, tc.want)
		}
	}
}

func TestConfigTrustedIssuers(t *testing.T) {
	cfg, err := ConfigFromEnv(envOf(map[string]string{
		"GCPCONN_AUDIENCE": "https://gcpconn.test",
		"GCPCONN_TRUSTED_ISSUERS": `[{"name":"github","issuer":"https://token.actions.githubusercontent.com","audiences":["https://gcpconn.test"],
			"bound_claims":{"repository_owner":"acme"}}]`,
		"GCPCONN_ADMINS": "Ops@Example.com,github:repo:acme/Infra:*",
	}))
	if err != nil {
		t.Fatalf("ConfigFromEnv = %v", err)
	}
	if len(cfg.TrustedIssuers) != 1 || cfg.TrustedIssuers[0].Name != "github" ||
		strings.Join(cfg.Admins, ",") != "ops@example.com,github:repo:acme/Infra:*" {
		t.Errorf("ConfigFromEnv = issuers %+v, admins %q; want github, and the federated admin's case kept", cfg.TrustedIssuers, cfg.Admins)
	}
	svc, err := New(cfg, nil, cloudlog.New(&bytes.Buffer{}, nil)).Keeper()
	if err != nil || strings.Join(svc.Policy.Issuers, ",") != "github" {
		t.Fatalf("Service().Policy.Issuers = %v (%v); want github", svc.Policy.Issuers, err)
	}
}

func TestServiceBuiltOnceLazily(t *testing.T) {
	cfg, err := ConfigFromEnv(envOf(map[string]string{"GCPCONN_AUDIENCE": "a"}))
	if err != nil {
		t.Fatal(err)
	}
	a := New(cfg, nil, cloudlog.New(&bytes.Buffer{}, nil))
	s1, err1 := a.Service()
	s2, err2 := a.Service()
	if err1 != nil || err2 != nil || s1 == nil || s1 != s2 {
		t.Fatalf("Service() twice = %p %v, %p %v; want one service", s1, err1, s2, err2)
	}
}

func TestBadConfigAnswers500(t *testing.T) {
	cfg, cfgErr := ConfigFromEnv(envOf(map[string]string{"GCPCONN_AUDIENCE": "a", "GCPCONN_STORE": "disk"}))
	var logs bytes.Buffer
	a := New(cfg, cfgErr, cloudlog.New(&logs, nil))
	// Authentication comes first: give the API an authenticator that accepts anyone.
	a.API.Auth = acceptAll{}
	w := httptest.NewRecorder()
	a.API.List(w, httptest.NewRequest("GET", "/list", nil))
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "disk") {
		t.Errorf("List with a bad configuration = %d %s; want a generic 500", w.Code, w.Body.String())
	}
	if !strings.Contains(logs.String(), "GCPCONN_STORE") {
		t.Errorf("configuration error not logged: %s", logs.String())
	}
}

func TestCheckFederatedExposure(t *testing.T) {
	bound := `[{"name":"gh","issuer":"https://token.actions.githubusercontent.com","audiences":["a"],"bound_claims":{"repository_owner_id":"1"}}]`
	unbound := `[{"name":"k8s","issuer":"https://k8s.example","audiences":["a"],"allow_unbound":true}]`
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // "" means allowed
	}{
		{"complete", map[string]string{"GCPCONN_TRUSTED_ISSUERS": bound, "GCPCONN_ALLOWED_CALLERS": "domain:acme.com", "GCPCONN_RATE_LIMIT": "60"}, ""},
		{"no issuers", map[string]string{"GCPCONN_ALLOWED_CALLERS": "domain:acme.com", "GCPCONN_RATE_LIMIT": "60"}, "GCPCONN_TRUSTED_ISSUERS is empty"},
		{"unbound issuer", map[string]string{"GCPCONN_TRUSTED_ISSUERS": unbound, "GCPCONN_ALLOWED_CALLERS": "domain:acme.com", "GCPCONN_RATE_LIMIT": "60"}, `GCPCONN_TRUSTED_ISSUERS[0] "k8s" has no bound claims`},
		{"no allowlist", map[string]string{"GCPCONN_TRUSTED_ISSUERS": bound, "GCPCONN_RATE_LIMIT": "60"}, "GCPCONN_ALLOWED_CALLERS is empty"},
		{"no rate limit", map[string]string{"GCPCONN_TRUSTED_ISSUERS": bound, "GCPCONN_ALLOWED_CALLERS": "domain:acme.com"}, "GCPCONN_RATE_LIMIT is 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.env["GCPCONN_AUDIENCE"] = "a"
			cfg, err := ConfigFromEnv(envOf(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			err = CheckFederatedExposure(cfg)
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("CheckFederatedExposure = %v; want %q", err, tc.want)
			}
		})
	}
}
