package main

import (
	"strings"
	"testing"
)

// TestCheckedOnce: the benchmark's verdict on a run's bucket reads, each connector's bucket
// read exactly once or the run fails.
func TestCheckedOnce(t *testing.T) {
	all := func(n int, times int64) map[string]int64 {
		m := map[string]int64{}
		for i := range n {
			m[bucketName(i)] = times
		}
		return m
	}
	missing := all(3, 1)
	delete(missing, bucketName(1))
	extra := all(3, 1)
	extra[bucketName(7)] = 1 // a connector of another run's seeding
	demo := all(3, 1)
	demo["zenml-bucket-sl"] = 4 // another bucket of the fake: not a bench connector
	for _, tc := range []struct {
		name  string
		reads map[string]int64
		want  string // "" for nil, or a substring of the error
	}{
		{"each once", all(3, 1), ""},
		{"other buckets", demo, ""},
		{"none", map[string]int64{}, "3 connectors not checked"},
		{"one missing", missing, "1 connectors not checked, 0 checked more than once"},
		{"twice", all(3, 2), "0 connectors not checked, 3 checked more than once"},
		{"a connector outside the run", extra, "(of 3), 1 not of this run checked"},
	} {
		err := checkedOnce(tc.reads, 3)
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: checkedOnce = %v; want %q", tc.name, err, tc.want)
		}
	}
}

// TestByAPI: the fake's calls of a run summed by API, and the Secret Manager metadata reads
// among them.
func TestByAPI(t *testing.T) {
	before := map[string]int64{"oauth2.token": 5, "secretmanager.versions.list": 1}
	after := map[string]int64{"oauth2.token": 15, "secretmanager.versions.list": 11, "secretmanager.versions.access": 10,
		"secretmanager.secrets.list": 2, "storage.buckets.get": 10}
	apis, metadata := byAPI(before, after)
	if apis["oauth2"] != 10 || apis["secretmanager"] != 22 || apis["storage"] != 10 || metadata != 12 {
		t.Errorf("byAPI = %v, %d metadata reads; want oauth2 10, secretmanager 22, storage 10, 12 metadata reads", apis, metadata)
	}
	if got := perConnector(apis, 10); got != "oauth2 1.00, secretmanager 2.20, storage 1.00" {
		t.Errorf("perConnector = %q", got)
	}
}
