package upkeep_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/emulator/fakegcp"
	"github.com/gcpconn/gcpconn/emulator/fakegcp/fakegcptest"
	"github.com/gcpconn/gcpconn/emulator/faults"
	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/gcp"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// TestSweepAgainstFake sweeps 100 service-account connectors (one in ten with a disabled
// key) through the real Google adapter against the fake, and checks the report.
func TestSweepAgainstFake(t *testing.T) {
	s, srv := sweepFakeService(t, 100, 10)
	before := srv.Faults().Counts()
	rep, err := s.Sweep(context.Background(), upkeep.SweepOptions{Concurrency: 8})
	if err != nil {
		t.Fatalf("Sweep = %v", err)
	}
	checkSweepReport(t, rep, 100, 10)
	if got := srv.Faults().Counts()["oauth2.token"] - before["oauth2.token"]; got != 100 {
		t.Errorf("token grants for 100 connectors = %d; want 100 (one per connector)", got)
	}
}

// BenchmarkSweepThousandAgainstFake sweeps 1,000 connectors against the fake, whose every
// endpoint answers after 50 ms, and reports the time of one sweep (the goal was under
// 10 s): scripts/bench-sweep.sh --one-request.
func BenchmarkSweepThousandAgainstFake(b *testing.B) {
	const n = 1000
	s, srv := sweepFakeService(b, n, 100)
	srv.Faults().Set("*", faults.Fault{Latency: 50 * time.Millisecond})
	defer srv.Faults().Set("*", faults.Fault{})
	conc := 32
	if v := os.Getenv("GCPCONN_SWEEP_CONCURRENCY"); v != "" {
		b.Logf("GCPCONN_SWEEP_CONCURRENCY=%s is for the service; this benchmark uses %d", v, conc)
	}
	b.ResetTimer()
	for b.Loop() {
		before := srv.Faults().Counts()
		rep, err := s.Sweep(context.Background(), upkeep.SweepOptions{Concurrency: conc})
		if err != nil {
			b.Fatalf("Sweep = %v", err)
		}
		checkSweepReport(b, rep, n, 100)
		calls := int64(0)
		for k, v := range srv.Faults().Counts() {
			calls += v - before[k]
		}
		b.ReportMetric(float64(calls), "google-calls/op")
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/sweep")
}

// sweepFakeService starts the fake Google (demo world) and returns a Service over the real
// adapter with n connectors registered; connectors 0, badEvery, 2·badEvery… have a disabled
// service account's key.
func sweepFakeService(tb testing.TB, n, badEvery int) (*upkeep.Keeper, *fakegcp.Server) {
	tb.Helper()
	srv := fakegcptest.StartExported(tb, fakegcp.Options{})
	s, _ := swService(tb, gcp.New(gcp.EndpointsFromEnv()))
	good := "zenml-bucket-sl@zenml-core.iam.gserviceaccount.com"
	bad := "disabled-sa@zenml-core.iam.gserviceaccount.com"
	keys := map[string]map[string]any{}
	for _, email := range []string{good, bad} {
		raw, err := srv.KeyJSON(email)
		if err != nil {
			tb.Fatalf("KeyJSON(%s): %v", email, err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			tb.Fatal(err)
		}
		keys[email] = m
	}
	swRegisterProject(tb, s, n, func(i int) map[string]any {
		if i%badEvery == 0 {
			return keys[bad]
		}
		return keys[good]
	})
	return s, srv
}

func checkSweepReport(tb testing.TB, rep upkeep.SweepReport, n, badEvery int) {
	tb.Helper()
	bad := n / badEvery
	if rep.Checked != n || rep.Failed != bad || rep.OK != n-bad {
		tb.Errorf("Sweep report = %+v; want %d checked, %d failed (disabled key), %d ok", rep, n, bad, n-bad)
	}
}

// swRegisterProject registers n connectors for project zenml-core.
func swRegisterProject(t testing.TB, s *upkeep.Keeper, n int, keyJSON func(i int) map[string]any) {
	t.Helper()
	no := false
	for i := range n {
		_, _, err := s.Register(context.Background(), connector.Principal{Email: swOwner}, connector.RegisterRequest{
			Name: "fake-" + strings.Repeat("0", 4-len(itoa(i))) + itoa(i), AuthMethod: configschema.ServiceAccount,
			ResourceType:  resourceid.GCSBucket,
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
