package connector_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/emulator/fakegcp"
	"github.com/gcpconn/gcpconn/emulator/faults"
	"github.com/gcpconn/gcpconn/emulator/world"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/gcp"
)

// TestSweepThousandAgainstFake sweeps 1,000 service-account connectors through the real
// Google adapter against the fake, whose every endpoint answers after 50 ms, and prints how
// long it took (DESIGN §7 wants under 10 s; no timed assertion here).
func TestSweepThousandAgainstFake(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 connectors against the fake: skipped with -short")
	}
	srv, err := fakegcp.Start(context.Background(), world.Demo(), fakegcp.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("fakegcp.Start: %v", err)
	}
	defer srv.Close()
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	google := gcp.New(gcp.EndpointsFromEnv())
	s, _ := swService(t, google)

	good := "zenml-bucket-sl@zenml-core.iam.gserviceaccount.com"
	bad := "disabled-sa@zenml-core.iam.gserviceaccount.com"
	keys := map[string]map[string]any{}
	for _, email := range []string{good, bad} {
		raw, err := srv.KeyJSON(email)
		if err != nil {
			t.Fatalf("KeyJSON(%s): %v", email, err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		keys[email] = m
	}
	const n = 1000
	swRegisterProject(t, s, n, func(i int) map[string]any {
		if i%100 == 0 {
			return keys[bad]
		}
		return keys[good]
	})

	srv.Faults().Set("*", faults.Fault{Latency: 50 * time.Millisecond})
	defer srv.Faults().Set("*", faults.Fault{})
	before := srv.Faults().Counts()
	conc := 32
	if v := os.Getenv("GCPCONN_SWEEP_CONCURRENCY"); v != "" {
		t.Logf("GCPCONN_SWEEP_CONCURRENCY=%s is for the service; this test uses %d", v, conc)
	}
	start := time.Now()
	rep, err := s.Sweep(context.Background(), connector.SweepOptions{Concurrency: conc})
	took := time.Since(start)
	if err != nil {
		t.Fatalf("Sweep = %v", err)
	}
	after := srv.Faults().Counts()
	calls := int64(0)
	for k, v := range after {
		calls += v - before[k]
	}
	for k, v := range after {
		if v > before[k] {
			t.Logf("  %s: %d calls", k, v-before[k])
		}
	}
	t.Logf("sweep of %d connectors, concurrency %d, 50 ms per Google call: %s (%d Google calls); report %+v",
		n, conc, took.Round(time.Millisecond), calls, rep)
	if rep.Checked != n || rep.Failed != n/100 || rep.OK != n-n/100 {
		t.Errorf("Sweep report = %+v; want %d checked, %d failed (disabled key), %d ok", rep, n, n/100, n-n/100)
	}
}

// swRegisterProject registers n connectors for project zenml-core.
func swRegisterProject(t testing.TB, s *connector.Service, n int, keyJSON func(i int) map[string]any) {
	t.Helper()
	no := false
	for i := range n {
		_, _, err := s.Register(context.Background(), connector.Principal{Email: swOwner}, connector.RegisterRequest{
			Name: "fake-" + strings.Repeat("0", 4-len(itoa(i))) + itoa(i), AuthMethod: connector.ServiceAccount,
			ResourceType:  connector.GCSBucket,
			ResourceID:    "gs://zenml-bucket-sl",
			Configuration: map[string]any{"project_id": "zenml-core", "service_account_json": keyJSON(i)},
			Verify:        &no,
		})
		if err != nil {
			t.Fatalf("Register %d: %v", i, err)
		}
	}
}

func itoa(i int) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
		if i == 0 {
			return string(b)
		}
	}
}
