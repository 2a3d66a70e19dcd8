package fakegcp

import (
	"context"
	"crypto/tls"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/emulator/artifacts"
	"github.com/gcpconn/gcpconn/emulator/gcs"
	"github.com/gcpconn/gcpconn/emulator/gke"
	"github.com/gcpconn/gcpconn/emulator/projects"
	"github.com/gcpconn/gcpconn/emulator/secrets"
	"github.com/gcpconn/gcpconn/emulator/world"
)

// startResources starts the resource services, each on its own loopback
// listener, and records their endpoints for Env:
//
//	storage           GCPCONN_ENDPOINT_STORAGE          (clients use BASE/storage/v1/)
//	container         GCPCONN_ENDPOINT_CONTAINER        (+ one TLS Kubernetes API server per cluster;
//	                  GCPCONN_GKE_DNS_ENDPOINTS maps DNS endpoint names to their 127.0.0.1:PORT)
//	artifactregistry  GCPCONN_ENDPOINT_ARTIFACTREGISTRY
//	docker            GCPCONN_DOCKER_REGISTRY_HOST      (TLS with the fake's CA; host:port)
//	secretmanager     GCPCONN_ENDPOINT_SECRETMANAGER    (notifications to Options.PubSubEmulatorHost,
//	                  else Options.PushURL, else none)
//	resourcemanager   GCPCONN_ENDPOINT_RESOURCEMANAGER
//	iam               GCPCONN_ENDPOINT_IAM              (service-account keys)
//
// Start calls it after the identity services are up.
func (s *Server) startResources() error {
	for _, start := range []func() error{s.startStorage, s.startClusters, s.startRegistry, s.startSecretManager, s.startProjects, s.startIAMKeys} {
		if err := start(); err != nil {
			return err
		}
	}
	return nil
}

// logf passes a service's operational messages to the fake's log.
func (s *Server) logf(format string, args ...any) { s.log.Warn(fmt.Sprintf(format, args...)) }

// startStorage serves Cloud Storage (fake-gcs-server behind the fake's IAM).
func (s *Server) startStorage() error {
	storage, err := gcs.New(gcs.Options{World: s.world, Auth: s.guard, Faults: s.faults})
	if err != nil {
		return err
	}
	s.onClose(func() error { storage.Close(); return nil })
	if err := s.serveAPI("storage", "GCPCONN_ENDPOINT_STORAGE", storage); err != nil {
		return err
	}

	return nil
}

// startClusters serves the GKE API and a Kubernetes API server per cluster.
func (s *Server) startClusters() error {
	clusters, err := gke.New(gke.Options{World: s.world, Auth: s.guard, Faults: s.faults, Now: s.opts.Now, Logf: s.logf,
		DNSCert: func(host string) (tls.Certificate, error) { return s.leafCert(host) }})
	if err != nil {
		return err
	}
	s.onClose(clusters.Close)
	var projectList []world.Project
	s.world.View(func(w *world.World) { projectList = append(projectList, w.Projects...) })
	if err := clusters.Start(projectList); err != nil {
		return err
	}
	if err := s.serveAPI("container", "GCPCONN_ENDPOINT_CONTAINER", clusters); err != nil {
		return err
	}
	if m := clusters.DNSEndpoints(); len(m) > 0 {
		pairs := make([]string, 0, len(m))
		for host, addr := range m {
			pairs = append(pairs, host+"="+addr)
		}
		sort.Strings(pairs)
		s.setEnv("GCPCONN_GKE_DNS_ENDPOINTS", strings.Join(pairs, ","))
	}

	return nil
}

// startRegistry serves Artifact Registry and the docker registry behind it.
func (s *Server) startRegistry() error {
	registry, err := artifacts.New(artifacts.Options{World: s.world, Auth: s.guard, Faults: s.faults, Created: s.opts.Now().UTC().Truncate(time.Second)})
	if err != nil {
		return err
	}
	if err := s.serveAPI("artifactregistry", "GCPCONN_ENDPOINT_ARTIFACTREGISTRY", registry); err != nil {
		return err
	}
	base, err := s.serve("docker", registry.Registry(), true)
	if err != nil {
		return err
	}
	s.setEnv("GCPCONN_DOCKER_REGISTRY_HOST", strings.TrimPrefix(base, "https://"))

	return nil
}

// startSecretManager serves Secret Manager, its notifications (Pub/Sub or push) and the
// ticker that fires SECRET_ROTATE when rotation times come.
func (s *Server) startSecretManager() error {
	var notifier secrets.Notifier
	switch {
	case s.opts.PubSubEmulatorHost != "":
		ps, err := secrets.NewPubSubNotifier(context.Background(), s.opts.PubSubEmulatorHost)
		if err != nil {
			return err
		}
		s.onClose(ps.Close)
		notifier = ps
	case s.opts.PushURL != "":
		push := &secrets.PushNotifier{URL: s.opts.PushURL, Now: s.opts.Now}
		if email := s.opts.PushEmail; email != "" {
			push.Token = func(context.Context) (string, error) { return s.IDToken(email, s.opts.PushAudience) }
		}
		notifier = push
	}
	sm, err := secrets.New(secrets.Options{World: s.world, Auth: s.guard, Faults: s.faults, Notifier: notifier, Now: s.opts.Now, Logf: s.logf})
	if err != nil {
		return err
	}
	if err := s.serveAPI("secretmanager", "GCPCONN_ENDPOINT_SECRETMANAGER", sm); err != nil {
		return err
	}
	s.setSecretManager(sm)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // fires SECRET_ROTATE when rotation times come
		defer close(done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				sm.Tick(context.Background(), s.opts.Now())
			}
		}
	}()
	s.onClose(func() error { close(stop); <-done; return nil })

	return nil
}

// startProjects serves Resource Manager.
func (s *Server) startProjects() error {
	crm, err := projects.New(projects.Options{World: s.world, Auth: s.guard, Faults: s.faults})
	if err != nil {
		return err
	}
	return s.serveAPI("resourcemanager", "GCPCONN_ENDPOINT_RESOURCEMANAGER", crm)
}
