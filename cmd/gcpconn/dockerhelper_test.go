package main

import (
	"testing"
)

func TestRegistryHost(t *testing.T) {
	for in, want := range map[string]string{
		"https://europe-west1-docker.pkg.dev":         "europe-west1-docker.pkg.dev",
		"europe-west1-docker.pkg.dev/":                "europe-west1-docker.pkg.dev",
		"https://127.0.0.1:5000/v2/":                  "127.0.0.1:5000",
		" gcr.io\n":                                   "gcr.io",
		"http://us-docker.pkg.dev/zenml-core/gcr.io/": "us-docker.pkg.dev",
	} {
		if got := registryHost(in); got != want {
			t.Errorf("registryHost(%q) = %q; want %q", in, got, want)
		}
	}
}
