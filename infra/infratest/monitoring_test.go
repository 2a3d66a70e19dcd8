package infratest

import (
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// TestMonitoringFollowsManifest: the alert policies notify the channels of the deploy
// setting (the manifest's default, or var.notification_channels), the sweep absence and the
// upstream error ratio follow their settings, and every log filter is scoped to the
// manifest's functions.
func TestMonitoringFollowsManifest(t *testing.T) {
	m := loadManifest(t)
	chans := []string{"projects/p/notificationChannels/1", "projects/p/notificationChannels/2"}
	tests := []struct {
		name                 string
		vars                 map[string]cty.Value
		channels             []string
		absence, ratioInText string
	}{
		{"defaults", nil, nil, manifestString(m.Settings["sweep_absence_seconds"]) + "s", manifestString(m.Settings["upstream_error_ratio"])},
		{"overrides", map[string]cty.Value{
			"notification_channels": cty.ListVal([]cty.Value{cty.StringVal(chans[0]), cty.StringVal(chans[1])}),
			"sweep_absence_seconds": cty.NumberIntVal(7200), "upstream_error_ratio": cty.NumberFloatVal(0.2),
		}, chans, "7200s", "0.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mod := loadInfra(t, tt.vars)
			n := 0
			for _, r := range mod.OfType("google_monitoring_alert_policy") {
				for _, in := range r.Instances {
					n++
					v, _, err := in.Attr("notification_channels")
					if err != nil {
						t.Fatal(err)
					}
					var got []string
					for it := v.ElementIterator(); it.Next(); {
						_, e := it.Element()
						got = append(got, e.AsString())
					}
					if !slices.Equal(got, tt.channels) {
						t.Errorf("%s%s notifies %v; want %v", r.Address(), in.KeyString(), got, tt.channels)
					}
				}
			}
			if n < 4 {
				t.Fatalf("%d alert policies; want sweep, log_match (connector_failing, rotation) and upstream_errors", n)
			}
			sweep := mod.Find("resource", "google_monitoring_alert_policy", "sweep").Instances[0]
			var absence string
			conds, _ := sweep.Blocks("conditions")
			for _, c := range conds {
				if bs, _ := c.Blocks("condition_absent"); len(bs) == 1 {
					absence = str(t, bs[0], "duration")
				}
			}
			if absence != tt.absence {
				t.Errorf("sweep absence duration = %q; want %q", absence, tt.absence)
			}
			up := block(t, block(t, mod.Find("resource", "google_monitoring_alert_policy", "upstream_errors").Instances[0], "conditions"), "condition_prometheus_query_language")
			if q := str(t, up, "query"); !strings.HasSuffix(q, "> "+tt.ratioInText) || !strings.Contains(q, "logging_googleapis_com:user_gcpconn_upstream_errors") {
				t.Errorf("upstream error query = %s; want the upstream_errors metric over requests > %s", q, tt.ratioInText)
			}
			for _, r := range mod.OfType("google_logging_metric") {
				for _, in := range r.Instances {
					f := str(t, in, "filter")
					for _, name := range m.Names("") {
						if !strings.Contains(f, `"`+name+`"`) {
							t.Errorf("%s[%s] filter is not scoped to function %s: %s", r.Address(), in.KeyString(), name, f)
						}
					}
				}
			}
		})
	}
}

// TestLogMetricsAreWellFormed: every log filter parses (ParseLogFilter's subset), selects an
// event, each metric declares exactly the labels it extracts, alerts and charts use only
// declared metrics and labels, and every metric has a chart on the dashboard.
func TestLogMetricsAreWellFormed(t *testing.T) {
	mod := loadInfra(t, nil)
	filters, err := LogFilters(mod)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range filters {
		if !slices.ContainsFunc(f.Clauses, func(c Clause) bool { return c.Op == "=" && (c.Field == "event" || c.Field == "audit") }) {
			t.Errorf("%s selects no event (jsonPayload.event= or jsonPayload.audit=): %+v", f.Source, f.Clauses)
		}
	}
	labels := map[string][]string{} // metric type -> labels
	for _, r := range mod.OfType("google_logging_metric") {
		for _, in := range r.Instances {
			ex, err := in.StringMap("label_extractors")
			if err != nil {
				t.Fatal(err)
			}
			var declared []string
			for _, l := range mustBlocks(t, block(t, in, "metric_descriptor"), "labels") {
				declared = append(declared, str(t, l, "key"))
			}
			var extracted []string
			for k := range ex {
				extracted = append(extracted, k)
			}
			sort.Strings(declared)
			sort.Strings(extracted)
			if !slices.Equal(declared, extracted) {
				t.Errorf("%s: descriptor labels %v, extractors %v", in.KeyString(), declared, extracted)
			}
			labels["logging.googleapis.com/user/"+str(t, in, "name")] = declared
		}
	}
	metricRE := regexp.MustCompile(`metric\.type="([^"]+)"`)
	labelRE := regexp.MustCompile(`metric\.label\.([a-z_]+)`)
	checkRefs := func(where, filter string) {
		for _, mt := range metricRE.FindAllStringSubmatch(filter, -1) {
			ls, ok := labels[mt[1]]
			if !ok {
				t.Errorf("%s uses metric %s, which monitoring.tf does not declare", where, mt[1])
			}
			for _, l := range labelRE.FindAllStringSubmatch(filter, -1) {
				if !slices.Contains(ls, l[1]) {
					t.Errorf("%s uses label %s, which %s does not have (%v)", where, l[1], mt[1], ls)
				}
			}
		}
	}
	for _, r := range mod.OfType("google_monitoring_alert_policy") {
		for _, in := range r.Instances {
			for _, c := range mustBlocks(t, in, "conditions") {
				for _, kind := range []string{"condition_threshold", "condition_absent"} {
					for _, b := range mustBlocks(t, c, kind) {
						checkRefs(r.Address(), str(t, b, "filter"))
					}
				}
			}
		}
	}
	var dash struct {
		MosaicLayout struct {
			Tiles []struct {
				Widget struct {
					XYChart struct {
						DataSets []struct {
							TimeSeriesQuery struct {
								TimeSeriesFilter struct {
									Filter      string
									Aggregation struct{ GroupByFields []string }
								}
							}
						}
					}
				}
			}
		}
	}
	raw := str(t, mod.Find("resource", "google_monitoring_dashboard", "gcpconn").Instances[0], "dashboard_json")
	if err := json.Unmarshal([]byte(raw), &dash); err != nil {
		t.Fatalf("dashboard_json: %v", err)
	}
	charted := map[string]bool{}
	for _, tile := range dash.MosaicLayout.Tiles {
		for _, ds := range tile.Widget.XYChart.DataSets {
			f := ds.TimeSeriesQuery.TimeSeriesFilter
			checkRefs("dashboard", f.Filter+" "+strings.Join(f.Aggregation.GroupByFields, " "))
			for _, mt := range metricRE.FindAllStringSubmatch(f.Filter, -1) {
				charted[mt[1]] = true
			}
		}
	}
	for mt := range labels {
		if !charted[mt] {
			t.Errorf("metric %s has no chart on the dashboard", mt)
		}
	}
}

// TestParseLogFilter: the subset monitoring.tf uses is read; anything else is refused, so an
// unread filter cannot pass the log contract unchecked.
func TestParseLogFilter(t *testing.T) {
	got, err := ParseLogFilter(`resource.type="cloud_run_revision" AND resource.labels.service_name=("a" OR "b") AND jsonPayload.event="x" AND jsonPayload.ok=true AND jsonPayload.n!=3`)
	if err != nil {
		t.Fatal(err)
	}
	want := []Clause{{"event", "=", "x"}, {"ok", "=", true}, {"n", "!=", 3.0}}
	if !slices.Equal(got, want) {
		t.Errorf("ParseLogFilter = %+v; want %+v", got, want)
	}
	for _, bad := range []string{`jsonPayload.event:"x"`, `jsonPayload.a="x" OR jsonPayload.b="y"`, `severity>=ERROR`, `jsonPayload.a=x`} {
		if _, err := ParseLogFilter(bad); err == nil {
			t.Errorf("ParseLogFilter(%s) = nil error; want one", bad)
		}
	}
}
