package gcp

import (
	"reflect"
	"testing"
)

func TestEndpointsFrom(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want Endpoints
	}{
		{"nothing set: Google", nil, DefaultEndpoints},
		{"overrides, trailing slashes trimmed", map[string]string{
			EnvOAuth2: "http://127.0.0.1:1/", EnvSTS: "http://127.0.0.1:2", EnvStorage: "http://127.0.0.1:3//",
			EnvDockerRegistryHost: "127.0.0.1:5000", EnvGKEDNSEndpoints: "gke-a.goog=127.0.0.1:7, bad ,gke-b.goog=127.0.0.1:8",
		}, func() Endpoints {
			e := DefaultEndpoints
			e.OAuth2, e.STS, e.Storage = "http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"
			e.DockerRegistryHost = "127.0.0.1:5000"
			e.GKEDNSEndpoints = map[string]string{"gke-a.goog": "127.0.0.1:7", "gke-b.goog": "127.0.0.1:8"}
			return e
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := EndpointsFrom(func(k string) string { return tt.env[k] })
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("EndpointsFrom(%v) = %+v; want %+v", tt.env, got, tt.want)
			}
		})
	}
	if got := (Endpoints{OAuth2: "http://x/"}).withDefaults(); got.OAuth2 != "http://x" || got.STS != DefaultEndpoints.STS {
		t.Errorf("withDefaults = %+v; want the override kept and Google's defaults filled in", got)
	}
}

func TestRegistryHost(t *testing.T) {
	if got := New(Endpoints{}).RegistryHost("europe-west1-docker.pkg.dev"); got != "europe-west1-docker.pkg.dev" {
		t.Errorf("RegistryHost without override = %q; want the host itself", got)
	}
	if got := New(Endpoints{DockerRegistryHost: "127.0.0.1:5000"}).RegistryHost("gcr.io"); got != "127.0.0.1:5000" {
		t.Errorf("RegistryHost with override = %q; want 127.0.0.1:5000", got)
	}
}
