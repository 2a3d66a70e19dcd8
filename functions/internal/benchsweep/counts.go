package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// metadataReads are the Secret Manager calls that read metadata (the quota of about 600 a
// minute per project), by the fake's endpoint names.
var metadataReads = map[string]bool{
	"secretmanager.secrets.list": true, "secretmanager.secrets.get": true,
	"secretmanager.versions.list": true, "secretmanager.versions.get": true,
}

// byAPI sums the fake's calls (after minus before) by API, the endpoint name's first word
// (oauth2, storage, secretmanager, ...), and the Secret Manager metadata reads.
func byAPI(before, after map[string]int64) (apis map[string]int64, metadata int64) {
	apis = map[string]int64{}
	for k, v := range after {
		d := v - before[k]
		if d == 0 {
			continue
		}
		api, _, _ := strings.Cut(k, ".")
		apis[api] += d
		if metadataReads[k] {
			metadata += d
		}
	}
	return apis, metadata
}

// perConnector formats counts divided by n, sorted by name: "oauth2 1.00, storage 1.00".
func perConnector[V int | int64](counts map[string]V, n int) string {
	names := slices.Sorted(maps.Keys(counts))
	parts := make([]string, 0, len(names))
	for _, k := range names {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, float64(counts[k])/float64(n)))
	}
	return strings.Join(parts, ", ")
}

// checkedOnce compares the bucket reads of a run with the n connectors' buckets: it returns
// nil when each was read exactly once, else an error saying what went wrong.
func checkedOnce(reads map[string]int64, n int) error {
	var missing, twice, other int
	for i := range n {
		switch reads[bucketName(i)] {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
	}
	for name := range reads {
		if !strings.HasPrefix(name, "gcpconn-bench-") {
			other++
		}
	}
	outside := len(reads) - other - (n - missing)
	if missing == 0 && twice == 0 && outside == 0 {
		return nil
	}
	return fmt.Errorf("%d connectors not checked, %d checked more than once (of %d), %d not of this run checked", missing, twice, n, outside)
}
