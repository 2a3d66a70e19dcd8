// Package app assembles gcpconn's functions from the environment: configuration (the
// GCPCONN_* variables), the stores, the Google adapter, caller authentication and logging,
// wired into an httpapi.API.
//
// Nothing is built at import time. [Default] reads the environment once, on first use, and
// the Service (SDK clients included) is built once, lazily, on the first request that needs
// it; a construction failure is logged and answered with a 500 on every request. A wrong
// configuration is meant to be found before that: functions/cmd/serve and, on Cloud Run, the
// entry points at the module root check [ConfigFromEnv] at start and exit naming the
// variable, and scripts/deploy.sh checks it (with [CheckFederatedExposure]) before deploying.
//
// # Configuration
//
//	GCPCONN_PROJECT                      project of Firestore and Secret Manager (required with GCPCONN_STORE=google)
//	GCPCONN_STORE                        memory (default; lost on restart) or google (Firestore + Secret Manager)
//	GCPCONN_FIRESTORE_DATABASE           Firestore database id (default "(default)")
//	GCPCONN_AUDIENCE                     audience of callers' ID tokens (required)
//	GCPCONN_ISSUER                       ID token issuer (default https://accounts.google.com)
//	GCPCONN_JWKS_URL                     issuer's keys (default Google's certs)
//	GCPCONN_ADMINS                       comma-separated admins: emails, NAME:SUBJECT or NAME:PREFIX* of trusted issuers
//	GCPCONN_TRUSTED_ISSUERS              JSON array of trusted issuers of federated callers (see callerauth.Issuer)
//	GCPCONN_ALLOWED_CALLERS              comma-separated Google callers allowed (emails, domain:DOMAIN); admins
//	                                     always are; unset: every Google caller (see shared/callergate)
//	GCPCONN_RATE_LIMIT                   requests per minute per principal on register and mint-token (default 0: none)
//	GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS true enables implicit, keyless impersonation and ambient external accounts
//	GCPCONN_SECRET_TOPIC                 Pub/Sub topic projects/P/topics/T for Secret Manager notifications
//	GCPCONN_SWEEP_TOPIC                  Pub/Sub topic projects/P/topics/T of sweep shards, pushed to /sweep-shard
//	                                     (default: none; shards run in the process that plans the sweep)
//	GCPCONN_MAX_BODY_BYTES               request body cap (default 262144)
//	GCPCONN_SWEEP_CONCURRENCY            connectors checked at once by sweep (default 32)
//	GCPCONN_SWEEP_MAX_ROTATIONS          overdue key rotations one sweep shard starts, 1 to 1000, the most
//	                                     overdue first; the rest wait for the next run (default 10)
//	GCPCONN_TIMEOUT_SECONDS              this function's platform timeout, 1 to 3600 (the deploy manifest sets
//	                                     it per function): requests end httpapi.DeadlineMargin before it
//	                                     (default: none; requests without a deadline get 60 s)
//	GCPCONN_REVOCATION_WINDOW            how long an instance serves a connector it read before reading it
//	                                     again: a Go duration ("30s") or seconds, 0 to 5m (default 30s; 0 disables)
//	GCPCONN_MAX_KEY_AGE                  sweep reports service-account keys older than this: days ("90d")
//	                                     or a Go duration, 1d to 3650d (default: none reported)
//	GCPCONN_ROTATION_IDENTITY            who creates, lists and deletes keys when rotating: connector (default:
//	                                     the connector's own key) or service (the service's own identity)
//	GCPCONN_TRACE_SAMPLE                 share of requests traced, 0 (off) to 1 (default 0.01; see functions/internal/tracing)
//	GCPCONN_TRACE_EXPORTER               cloudtrace (default with GCPCONN_STORE=google), console (JSON spans on stderr) or none
//	GCPCONN_ENDPOINT_*, GCPCONN_DOCKER_REGISTRY_HOST, GCPCONN_GKE_DNS_ENDPOINTS
//	                                     Google endpoint overrides (see shared/gcp)
package app

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"github.com/cloudevents/sdk-go/v2/event"
	"google.golang.org/api/option"

	"github.com/gcpconn/gcpconn/functions/httpapi"
	"github.com/gcpconn/gcpconn/functions/internal/tracing"
	"github.com/gcpconn/gcpconn/shared/callerauth"
	"github.com/gcpconn/gcpconn/shared/callergate"
	"github.com/gcpconn/gcpconn/shared/cloudlog"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/gcp"
	"github.com/gcpconn/gcpconn/shared/principal"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// Store choices of GCPCONN_STORE.
const (
	StoreMemory = "memory"
	StoreGoogle = "google"
)

// Config is the service configuration read from the environment.
type Config struct {
	Project           string
	Store             string // StoreMemory or StoreGoogle
	FirestoreDatabase string
	Audience          string
	Issuer            string
	JWKSURL           string
	Admins            []string
	TrustedIssuers    []callerauth.Issuer
	// AllowedCallers limits Google callers (GCPCONN_ALLOWED_CALLERS; nil: no limit).
	AllowedCallers []string
	// RateLimit is requests per minute per principal on register and mint-token
	// (GCPCONN_RATE_LIMIT; 0: none).
	RateLimit     int
	AllowImplicit bool
	SecretTopic   string
	// SweepTopic is the topic of sweep shards (GCPCONN_SWEEP_TOPIC); "" runs them in process.
	SweepTopic       string
	MaxBodyBytes     int64
	SweepConcurrency int
	// SweepMaxRotations caps the overdue key rotations a shard starts
	// (GCPCONN_SWEEP_MAX_ROTATIONS; 0: upkeep.DefaultMaxRotations).
	SweepMaxRotations int
	// Timeout is this function's platform timeout (GCPCONN_TIMEOUT_SECONDS; 0: not set), the
	// deadline of its requests minus httpapi.DeadlineMargin.
	Timeout time.Duration
	// RevocationWindow bounds how long an instance serves a connector from its cache
	// (GCPCONN_REVOCATION_WINDOW; connector.DefaultRevocationWindow unless set; 0 disables).
	RevocationWindow time.Duration
	// MaxKeyAge makes sweep report connectors whose key is older (GCPCONN_MAX_KEY_AGE; 0: none).
	MaxKeyAge time.Duration
	// RotationIdentity calls the IAM keys API for key rotation (GCPCONN_ROTATION_IDENTITY:
	// gcp.RotateAsConnector unless set).
	RotationIdentity gcp.RotationIdentity
	Endpoints        gcp.Endpoints
	// SecretManagerEndpoint overrides Secret Manager's REST endpoint (EnvSecretManagerEndpoint);
	// "" means Google's.
	SecretManagerEndpoint string
	// FirestoreOptions are extra options of the Firestore client (not from the environment;
	// benchmarks use them to count round trips).
	FirestoreOptions []option.ClientOption
	// Tracing says which requests are traced and where spans go (GCPCONN_TRACE_SAMPLE,
	// GCPCONN_TRACE_EXPORTER; see tracing.go).
	Tracing tracing.Config
}

// ConfigFromEnv reads the GCPCONN_* variables through getenv (os.Getenv in production).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	c := Config{
		Project:               get("GCPCONN_PROJECT"),
		Store:                 get("GCPCONN_STORE"),
		FirestoreDatabase:     get("GCPCONN_FIRESTORE_DATABASE"),
		Audience:              get("GCPCONN_AUDIENCE"),
		Issuer:                get("GCPCONN_ISSUER"),
		JWKSURL:               get("GCPCONN_JWKS_URL"),
		SecretTopic:           get("GCPCONN_SECRET_TOPIC"),
		SweepTopic:            get("GCPCONN_SWEEP_TOPIC"),
		Endpoints:             gcp.EndpointsFrom(getenv),
		SecretManagerEndpoint: get(EnvSecretManagerEndpoint),
	}
	if c.Store == "" {
		c.Store = StoreMemory
	}
	c.RevocationWindow = connector.DefaultRevocationWindow
	if c.FirestoreDatabase == "" {
		c.FirestoreDatabase = "(default)"
	}
	if c.Issuer == "" {
		c.Issuer = callerauth.GoogleIssuer
	}
	if c.JWKSURL == "" {
		c.JWKSURL = callerauth.GoogleJWKSURL
	}
	errs := c.readCallers(get)
	errs = append(errs, c.readLimits(get)...)
	errs = append(errs, c.readTracing(get)...)
	switch c.Store {
	case StoreMemory:
	case StoreGoogle:
		if c.Project == "" {
			errs = append(errs, "GCPCONN_PROJECT is required with GCPCONN_STORE=google")
		}
	default:
		errs = append(errs, fmt.Sprintf("GCPCONN_STORE=%q is not memory or google", c.Store))
	}
	if c.SweepTopic != "" && topicProject(c.SweepTopic) == "" {
		errs = append(errs, fmt.Sprintf("GCPCONN_SWEEP_TOPIC=%q is not a topic name projects/PROJECT/topics/TOPIC", c.SweepTopic))
	}
	if c.Audience == "" {
		errs = append(errs, "GCPCONN_AUDIENCE is required: the audience callers' ID tokens must carry")
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("app: configuration: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

// readCallers reads who may call and as what (GCPCONN_TRUSTED_ISSUERS, GCPCONN_ADMINS,
// GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS) into c, and returns what is wrong with them.
func (c *Config) readCallers(get func(string) string) (errs []string) {
	issuers, err := callerauth.ParseIssuers(get("GCPCONN_TRUSTED_ISSUERS"), c.Issuer)
	if err != nil {
		sep := ": "
		if strings.HasPrefix(err.Error(), "[") {
			sep = ""
		}
		errs = append(errs, "GCPCONN_TRUSTED_ISSUERS"+sep+err.Error())
	}
	c.TrustedIssuers = issuers
	for i, a := range strings.Split(get("GCPCONN_ADMINS"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			p, err := principal.CheckPattern(a, issuerNames(issuers))
			if err != nil {
				errs = append(errs, fmt.Sprintf("GCPCONN_ADMINS[%d] %v", i, err))
			}
			c.Admins = append(c.Admins, p)
		}
	}
	if c.AllowedCallers, err = callergate.ParseAllowed(get("GCPCONN_ALLOWED_CALLERS")); err != nil {
		errs = append(errs, "GCPCONN_ALLOWED_CALLERS"+err.Error())
	}
	if c.RateLimit, err = callergate.ParseRate(get("GCPCONN_RATE_LIMIT")); err != nil {
		errs = append(errs, "GCPCONN_RATE_LIMIT="+err.Error())
	}
	if v := get("GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("GCPCONN_ENABLE_IMPLICIT_AUTH_METHODS=%q is not true or false", v))
		}
		c.AllowImplicit = b
	}
	return errs
}

// readLimits reads the numeric settings (GCPCONN_MAX_BODY_BYTES, GCPCONN_SWEEP_CONCURRENCY,
// GCPCONN_TIMEOUT_SECONDS, GCPCONN_REVOCATION_WINDOW, GCPCONN_MAX_KEY_AGE) and GCPCONN_ROTATION_IDENTITY into c, and
// returns what is wrong with them.
func (c *Config) readLimits(get func(string) string) (errs []string) {
	for _, s := range []struct {
		name   string
		lo, hi int64
		want   string // what the error says is accepted
		set    func(n int64)
	}{
		{"GCPCONN_MAX_BODY_BYTES", 1024, math.MaxInt64, "a number of bytes >= 1024", func(n int64) { c.MaxBodyBytes = n }},
		{"GCPCONN_SWEEP_CONCURRENCY", 1, 1000, "a number from 1 to 1000", func(n int64) { c.SweepConcurrency = int(n) }},
		{"GCPCONN_SWEEP_MAX_ROTATIONS", 1, 1000, "a number from 1 to 1000", func(n int64) { c.SweepMaxRotations = int(n) }},
		{"GCPCONN_TIMEOUT_SECONDS", 1, 3600, "a number of seconds from 1 to 3600 (the function's timeout)", func(n int64) { c.Timeout = time.Duration(n) * time.Second }},
	} {
		if v := get(s.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < s.lo || n > s.hi {
				errs = append(errs, fmt.Sprintf("%s=%q is not %s", s.name, v, s.want))
			}
			s.set(n)
		}
	}
	if v := get("GCPCONN_REVOCATION_WINDOW"); v != "" {
		d, err := parseWindow(v)
		if err != nil {
			errs = append(errs, err.Error())
		}
		c.RevocationWindow = d
	}
	if v := get("GCPCONN_MAX_KEY_AGE"); v != "" {
		d, err := parseMaxKeyAge(v)
		if err != nil {
			errs = append(errs, err.Error())
		}
		c.MaxKeyAge = d
	}
	id, err := gcp.ParseRotationIdentity(get("GCPCONN_ROTATION_IDENTITY"))
	if err != nil {
		errs = append(errs, fmt.Sprintf("GCPCONN_ROTATION_IDENTITY=%q is not connector or service "+
			"(who creates, lists and deletes service-account keys when rotating: the connector's own key, or the service's own identity)",
			get("GCPCONN_ROTATION_IDENTITY")))
	}
	c.RotationIdentity = id
	return errs
}

// parseWindow reads GCPCONN_REVOCATION_WINDOW: a Go duration or whole seconds, from 0 to
// connector.MaxRevocationWindow.
func parseWindow(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if n, nerr := strconv.Atoi(v); nerr == nil {
		d, err = time.Duration(n)*time.Second, nil
	}
	if err != nil || d < 0 || d > connector.MaxRevocationWindow {
		return 0, fmt.Errorf("GCPCONN_REVOCATION_WINDOW=%q is not a duration from 0 to %s (like 30s, or a number of seconds)", v, connector.MaxRevocationWindow)
	}
	return d, nil
}

// parseMaxKeyAge reads GCPCONN_MAX_KEY_AGE: days ("90d") or a Go duration, 1d to 3650d.
func parseMaxKeyAge(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, derr := strconv.Atoi(n)
		d, err = time.Duration(days)*24*time.Hour, derr
	}
	if err != nil || d < 24*time.Hour || d > 3650*24*time.Hour {
		return 0, fmt.Errorf("GCPCONN_MAX_KEY_AGE=%q is not an age from 1d to 3650d (like 90d, or 2160h)", v)
	}
	return d, nil
}

// topicProject returns the project of a topic name projects/P/topics/T, "" when it is not one.
func topicProject(topic string) string {
	parts := strings.Split(topic, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != "topics" || parts[1] == "" || parts[3] == "" {
		return ""
	}
	return parts[1]
}

// CheckFederatedExposure says whether cfg may run with Cloud Run's invoker check off for
// federated callers, where the application is the only gate: trusted issuers must be
// configured, each with bound claims (none allow_unbound), Google callers must be limited by
// GCPCONN_ALLOWED_CALLERS, and register and mint-token by GCPCONN_RATE_LIMIT. The deployers
// refuse the setting otherwise.
func CheckFederatedExposure(cfg Config) error {
	var errs []string
	if len(cfg.TrustedIssuers) == 0 {
		errs = append(errs, "GCPCONN_TRUSTED_ISSUERS is empty: there are no federated callers to let in")
	}
	for i, is := range cfg.TrustedIssuers {
		if is.AllowUnbound || len(is.BoundClaims) == 0 {
			errs = append(errs, fmt.Sprintf("GCPCONN_TRUSTED_ISSUERS[%d] %q has no bound claims (allow_unbound): every token it signs would reach the functions", i, is.Name))
		}
	}
	if len(cfg.AllowedCallers) == 0 {
		errs = append(errs, "GCPCONN_ALLOWED_CALLERS is empty: every Google account in the world would be a caller")
	}
	if cfg.RateLimit == 0 {
		errs = append(errs, "GCPCONN_RATE_LIMIT is 0: register and mint-token would have no rate limit")
	}
	if len(errs) > 0 {
		return fmt.Errorf("the invoker check cannot be turned off for federated callers: %s", strings.Join(errs, "; "))
	}
	return nil
}

// issuerNames returns the names of the trusted issuers.
func issuerNames(issuers []callerauth.Issuer) []string {
	names := make([]string, 0, len(issuers))
	for _, is := range issuers {
		names = append(names, is.Name)
	}
	return names
}

// App is an assembled gcpconn: the API and what it was built from. Its default logger writes
// to stdout through a cloudlog.LineWriter (many lines per write under load); FlushLogs before
// the process exits.
type App struct {
	Config Config
	API    *httpapi.API
	Log    *slog.Logger
	// logOut batches the log lines to stdout when New made the logger (nil otherwise).
	logOut *cloudlog.LineWriter
	// keeper builds the Service and its background work once.
	keeper func() (*upkeep.Keeper, error)
}

// FlushLogs waits until every log line written so far is on stdout (serve calls it when it
// shuts down). It does nothing for an App given its own logger.
func (a *App) FlushLogs() {
	if a.logOut != nil {
		_ = a.logOut.Flush()
	}
}

// New assembles an App from cfg without doing any I/O: the Service is built on first use.
// A non-nil cfgErr (from ConfigFromEnv) makes every request a logged 500.
func New(cfg Config, cfgErr error, log *slog.Logger) *App {
	var out *cloudlog.LineWriter
	if log == nil {
		out = cloudlog.NewLineWriter(os.Stdout)
		log = cloudlog.New(out, &cloudlog.Options{ProjectID: cfg.Project})
	}
	a := &App{Config: cfg, Log: log, logOut: out}
	a.keeper = sync.OnceValues(func() (*upkeep.Keeper, error) {
		if cfgErr != nil {
			return nil, cfgErr
		}
		k, err := buildService(context.Background(), cfg, log)
		if err != nil {
			log.Error("app: build service", "error", err.Error())
		}
		return k, err
	})
	a.API = &httpapi.API{
		Service: func(context.Context) (*connector.Service, error) { return a.Service() },
		Keeper:  func(context.Context) (*upkeep.Keeper, error) { return a.keeper() },
		Auth: callerauth.New(callerauth.Config{
			Issuer:   cfg.Issuer,
			Audience: cfg.Audience,
			JWKSURL:  cfg.JWKSURL,
			Issuers:  cfg.TrustedIssuers,
			Log:      log,
		}),
		Gate: callergate.New(callergate.Config{Allowed: cfg.AllowedCallers, PerMinute: cfg.RateLimit,
			Limited: []string{"register", "mint-token"}, IsAdmin: func(p connector.Principal) bool {
				return !p.Federated() && slices.Contains(cfg.Admins, strings.ToLower(p.Email))
			}}),
		Log:             log,
		MaxBodyBytes:    cfg.MaxBodyBytes,
		FunctionTimeout: cfg.Timeout,
		SweepDefaults:   sweepDefaults(cfg),
	}
	return a
}

// Service returns the App's Service, building it on first use.
func (a *App) Service() (*connector.Service, error) {
	k, err := a.keeper()
	if err != nil {
		return nil, err
	}
	return k.Service, nil
}

// Keeper returns the App's background work (sweep, key rotation) over its Service, building
// both on first use.
func (a *App) Keeper() (*upkeep.Keeper, error) { return a.keeper() }

// buildService creates the stores and the Google adapter for cfg, and the Service with its
// background work.
func buildService(ctx context.Context, cfg Config, log *slog.Logger) (*upkeep.Keeper, error) {
	google := gcp.New(cfg.Endpoints, gcp.WithRotationIdentity(cfg.RotationIdentity))
	svc := &connector.Service{
		Google: google,
		Policy: connector.Policy{Admins: cfg.Admins, Issuers: issuerNames(cfg.TrustedIssuers), AllowImplicit: cfg.AllowImplicit},
		Log:    log,
		// The revocation window (ARCHITECTURE.md, Production rules): connectors are served from memory for at most this long.
		RevocationWindow: cfg.RevocationWindow,
	}
	// Key rotation (#17): IAM keys API at GCPCONN_ENDPOINT_IAM, as the connector's key or
	// the service's identity (GCPCONN_ROTATION_IDENTITY).
	k := upkeep.New(svc, google)
	switch cfg.Store {
	case StoreMemory:
		svc.Store, svc.Secrets = store.NewMemory(), store.NewMemorySecrets()
	case StoreGoogle:
		// Firestore honours FIRESTORE_EMULATOR_HOST; both clients use the service's own
		// credentials (ADC: the metadata server, GCE_METADATA_HOST locally). The Firestore
		// connection reconnects within seconds once the store answers again.
		fs, err := store.NewFirestoreClient(ctx, cfg.Project, cfg.FirestoreDatabase, cfg.FirestoreOptions...)
		if err != nil {
			return nil, fmt.Errorf("app: store.NewFirestoreClient: %w", err)
		}
		var opts []option.ClientOption
		if cfg.SecretManagerEndpoint != "" {
			opts = append(opts, option.WithEndpoint(cfg.SecretManagerEndpoint))
		}
		sm, err := secretmanager.NewRESTClient(ctx, opts...)
		if err != nil {
			fs.Close()
			return nil, fmt.Errorf("app: secretmanager.NewRESTClient: %w", err)
		}
		svc.Store = store.NewFirestore(fs, Collection)
		svc.Secrets = store.NewSecretManager(sm, cfg.Project, store.SecretManagerOptions{Topic: cfg.SecretTopic})
		k.Runs = store.NewFirestoreRuns(fs, RunsCollection)
	default:
		return nil, fmt.Errorf("app: unknown store %q", cfg.Store)
	}
	if k.Runs == nil {
		k.Runs = &store.MemoryRuns{}
	}
	return k, wireShards(ctx, cfg, k)
}

// wireShards sets where sweep shards go: the sweep topic when configured, else this process.
func wireShards(ctx context.Context, cfg Config, k *upkeep.Keeper) error {
	if cfg.SweepTopic == "" {
		k.Shards = upkeep.LocalShards{Keeper: k, Options: sweepDefaults(cfg)}
		return nil
	}
	// The client honours PUBSUB_EMULATOR_HOST and uses the service's own credentials.
	client, err := pubsub.NewClient(ctx, topicProject(cfg.SweepTopic))
	if err != nil {
		return fmt.Errorf("app: pubsub.NewClient: %w", err)
	}
	k.Shards = store.NewPubSubShards(client, cfg.SweepTopic)
	return nil
}

// sweepDefaults are the sweep options of the deployment (GCPCONN_SWEEP_CONCURRENCY,
// GCPCONN_SWEEP_MAX_ROTATIONS, GCPCONN_MAX_KEY_AGE).
func sweepDefaults(cfg Config) upkeep.SweepOptions {
	return upkeep.SweepOptions{Concurrency: cfg.SweepConcurrency, MaxKeyAge: cfg.MaxKeyAge, MaxRotations: cfg.SweepMaxRotations}
}

// RunsCollection is the Firestore collection of sweep runs (each with a "shards"
// subcollection).
const RunsCollection = "sweep_runs"

// Collection is the Firestore collection of connectors.
const Collection = "connectors"

// EnvSecretManagerEndpoint overrides Secret Manager's REST endpoint (the fake locally).
const EnvSecretManagerEndpoint = "GCPCONN_ENDPOINT_SECRETMANAGER"

var defaultApp = sync.OnceValue(func() *App {
	cfg, err := ConfigFromEnv(os.Getenv)
	a := New(cfg, err, nil)
	if err != nil {
		a.Log.Error("app: invalid configuration; every request will fail until it is fixed", "error", err.Error())
	} else {
		startTracing(a)
	}
	return a
})

// Default returns the App configured from the process environment, assembled on first use.
func Default() *App { return defaultApp() }

// The entry points registered by the root package: each serves its function of Default().

// Register serves POST/PUT/DELETE /register.
func Register(w http.ResponseWriter, r *http.Request) { Default().API.Register(w, r) }

// Verify serves POST /verify.
func Verify(w http.ResponseWriter, r *http.Request) { Default().API.Verify(w, r) }

// List serves GET /list.
func List(w http.ResponseWriter, r *http.Request) { Default().API.List(w, r) }

// MintToken serves POST /mint-token.
func MintToken(w http.ResponseWriter, r *http.Request) { Default().API.MintToken(w, r) }

// Rotate serves POST /rotate.
func Rotate(w http.ResponseWriter, r *http.Request) { Default().API.Rotate(w, r) }

// Sweep serves POST and GET /sweep: the sweep planner and its runs.
func Sweep(w http.ResponseWriter, r *http.Request) { Default().API.Sweep(w, r) }

// SweepShard serves POST /sweep-shard: the sweep worker, pushed one shard by Pub/Sub.
func SweepShard(w http.ResponseWriter, r *http.Request) { Default().API.SweepShard(w, r) }

// Refresh handles Secret Manager notifications delivered as Pub/Sub CloudEvents.
func Refresh(ctx context.Context, e event.Event) error { return Default().API.Refresh(ctx, e) }
