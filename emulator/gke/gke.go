// Package gke is the fake Google Kubernetes Engine: the container v1 REST API
// (the one container.NewClusterManagerRESTClient calls) and, for every
// cluster, a small TLS Kubernetes API server that kubectl can talk to.
//
// Vocabulary:
//   - a cluster comes from the world (project, location, name, dns_endpoint);
//     its IAM resource is "projects/P/locations/L/clusters/C" and its parent is
//     the project;
//   - the cluster object is containerpb.Cluster as protojson, with endpoint
//     "127.0.0.1" plus the port of the cluster's API server (see below),
//     masterAuth.clusterCaCertificate (base64 PEM of the cluster's own CA), and
//     controlPlaneEndpointsConfig;
//   - the API server is TLS on 127.0.0.1:0 with a certificate from the cluster
//     CA. It accepts "Authorization: Bearer <access token of the fake>" whose
//     member holds container.clusters.get on the cluster (as GKE requires for
//     any access), then authorises Kubernetes verbs with GKE's IAM permissions
//     (container.namespaces.list, ...). It serves /version, /api, /apis,
//     /api/v1 and namespaces: enough for `kubectl get --raw /version` and
//     `kubectl get namespaces`.
//
// Endpoints. Real GKE endpoints carry no port (clients use https://ENDPOINT on
// 443). Here each API server has its own port, so the cluster's endpoint is
// "127.0.0.1:PORT": a kubeconfig built as https://{endpoint} reaches it. When a
// cluster has dns_endpoint, dnsEndpointConfig.endpoint is a GKE-style name
// ("gke-<16 hex>-<project number>.<location>.gke.goog", allowExternalTraffic
// true) that does not resolve here; the API server presents a certificate for
// it (from Options.DNSCert, the fake's "public" CA, when set), and
// Server.DNSEndpoints maps each such name to its 127.0.0.1:PORT so that a
// client that prefers the DNS endpoint can dial it (the fake's composition
// exports the map as GCPCONN_GKE_DNS_ENDPOINTS).
package gke

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/proto"

	"github.com/gcpconn/gcpconn/emulator/googleerr"
	"github.com/gcpconn/gcpconn/emulator/internal/rest"
	"github.com/gcpconn/gcpconn/emulator/world"
)

// Catalog is the live list of projects and clusters (*world.World satisfies it).
type Catalog interface {
	FindProject(idOrNumber string) (world.Project, bool)
	ClustersIn(project, location string) []world.Cluster
}

// Options configure a Server.
type Options struct {
	World  Catalog         // required
	Auth   rest.Authorizer // required
	Faults rest.Wrapper    // optional
	// Now is the clock for certificates and creation times (time.Now if nil).
	Now func() time.Time
	// Logf receives operational messages (dropped if nil). Never secrets.
	Logf func(format string, args ...any)
	// DNSCert, when set, issues the certificate served for a cluster's DNS
	// endpoint name, standing in for Google's publicly trusted one (the fake's
	// own CA). Without it the cluster CA signs the DNS name too.
	DNSCert func(host string) (tls.Certificate, error)
}

// Server is the fake container API (an http.Handler) and the owner of every
// cluster's API server.
type Server struct {
	opts   Options
	routes map[string]http.Handler

	mu     sync.Mutex
	closed bool
	apis   map[string]*apiServer // by cluster resource name
}

// New starts an API server for every cluster of the world. Clusters added to
// the world later get theirs on first use.
func New(opts Options) (*Server, error) {
	if opts.World == nil || opts.Auth == nil {
		return nil, fmt.Errorf("gke: Options.World and Options.Auth are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, apis: map[string]*apiServer{}}
	s.routes = rest.Routes(opts.Faults, map[string]http.HandlerFunc{
		"container.clusters.list": s.list,
		"container.clusters.get":  s.get,
	})
	return s, nil
}

// Start brings up the API servers of the clusters of the given projects
// (all world projects are discovered lazily otherwise).
func (s *Server) Start(projects []world.Project) error {
	for _, p := range projects {
		for _, c := range s.opts.World.ClustersIn(p.ID, "-") {
			if _, err := s.api(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close stops every API server.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, a := range s.apis {
		_ = a.srv.Close()
	}
	return nil
}

// DNSEndpoints maps each started cluster's DNS endpoint name to the
// 127.0.0.1:PORT that serves it.
func (s *Server) DNSEndpoints() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for _, a := range s.apis {
		if a.dnsName != "" {
			out[a.dnsName] = a.addr
		}
	}
	return out
}

// Endpoint returns the address and CA certificate (PEM) of a cluster's API
// server, starting it if needed.
func (s *Server) Endpoint(project, location, name string) (addr string, caPEM []byte, err error) {
	p, ok := s.opts.World.FindProject(project)
	if !ok {
		return "", nil, fmt.Errorf("gke: unknown project %q", project)
	}
	for _, c := range s.opts.World.ClustersIn(p.ID, location) {
		if c.Name == name {
			a, err := s.api(c)
			if err != nil {
				return "", nil, err
			}
			return a.addr, a.ca.certPEM, nil
		}
	}
	return "", nil, fmt.Errorf("gke: no cluster %s/%s/%s", project, location, name)
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

func quietLog() *log.Logger { return log.New(discard{}, "", 0) }

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func resourceName(c world.Cluster) string {
	return "projects/" + c.Project + "/locations/" + c.Location + "/clusters/" + c.Name
}

// api returns the cluster's API server, starting it on first use.
func (s *Server) api(c world.Cluster) (*apiServer, error) {
	res := resourceName(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("gke: server closed")
	}
	if a, ok := s.apis[res]; ok {
		return a, nil
	}
	dnsName := ""
	if c.DNSEndpoint {
		num := int64(0)
		if p, ok := s.opts.World.FindProject(c.Project); ok {
			num = p.Number
		}
		dnsName = fmt.Sprintf("gke-%s-%d.%s.gke.goog", uid(res)[:16], num, c.Location)
	}
	var names []string
	if dnsName != "" {
		names = append(names, dnsName)
	}
	now := s.opts.Now()
	ca, err := newClusterCA(uid(res), names, now)
	if err != nil {
		return nil, fmt.Errorf("gke: cluster %s: %w", res, err)
	}
	a := &apiServer{gke: s, resource: res, created: now, ca: ca, dnsName: dnsName}
	if dnsName != "" && s.opts.DNSCert != nil {
		cert, err := s.opts.DNSCert(dnsName)
		if err != nil {
			return nil, fmt.Errorf("gke: DNS endpoint certificate for %s: %w", res, err)
		}
		a.dnsCert = &cert
	}
	if err := a.start(); err != nil {
		return nil, fmt.Errorf("gke: %w", err)
	}
	s.apis[res] = a
	return a, nil
}

// uid is a stable 32-hex-digit id derived from a name.
func uid(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:16])
}

// ServeHTTP serves the container v1 REST API:
//
//	GET /v1/projects/P/locations/L/clusters      (L may be "-": every location)
//	GET /v1/projects/P/locations/L/clusters/C
//	GET /v1/projects/P/zones/Z/clusters[/C]      (the v1 "zones" spelling)
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if r.Method != http.MethodGet || len(parts) < 6 || parts[0] != "v1" || parts[1] != "projects" ||
		(parts[3] != "locations" && parts[3] != "zones") || parts[5] != "clusters" || len(parts) > 7 {
		googleerr.Write(w, googleerr.NotFound("Not found: "+r.URL.Path+"."))
		return
	}
	q := call{project: parts[2], location: parts[4]}
	endpoint := "container.clusters.list"
	if len(parts) == 7 {
		q.cluster = parts[6]
		endpoint = "container.clusters.get"
	}
	s.routes[endpoint].ServeHTTP(w, rest.WithCall(r, q))
}

// list answers ListClusters: the project's clusters in one location or all.
func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := rest.CallFrom[call](r)
	p, known, ok := rest.CheckInProject(w, r, s.opts.Auth, s.opts.World, q.project, "", "container.clusters.list")
	if !ok {
		return
	}
	if !known {
		googleerr.Write(w, googleerr.NotFound("Not found: projects/"+q.project+"."))
		return
	}
	clusters := s.opts.World.ClustersIn(p.ID, q.location)
	sort.Slice(clusters, func(i, j int) bool { return resourceName(clusters[i]) < resourceName(clusters[j]) })
	resp := &containerpb.ListClustersResponse{MissingZones: []string{}}
	for _, c := range clusters {
		pc, err := s.cluster(c, p)
		if err != nil {
			googleerr.Write(w, googleerr.Internal(err.Error()))
			return
		}
		resp.Clusters = append(resp.Clusters, pc)
	}
	rest.WriteProto(w, resp)
}

// get answers GetCluster.
func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	q := rest.CallFrom[call](r)
	under := "/locations/" + q.location + "/clusters/" + q.cluster
	p, known, ok := rest.CheckInProject(w, r, s.opts.Auth, s.opts.World, q.project, under, "container.clusters.get")
	if !ok {
		return
	}
	if known && q.location != "-" {
		for _, c := range s.opts.World.ClustersIn(p.ID, q.location) {
			if c.Name == q.cluster {
				pc, err := s.cluster(c, p)
				if err != nil {
					googleerr.Write(w, googleerr.Internal(err.Error()))
					return
				}
				rest.WriteProto(w, pc)
				return
			}
		}
	}
	googleerr.Write(w, googleerr.NotFound("Not found: projects/"+q.project+"/locations/"+q.location+"/clusters/"+q.cluster+"."))
}

// cluster builds the containerpb.Cluster of a world cluster.
func (s *Server) cluster(c world.Cluster, p world.Project) (*containerpb.Cluster, error) {
	a, err := s.api(c)
	if err != nil {
		return nil, err
	}
	zonal := isZone(c.Location)
	locations := []string{c.Location}
	if !zonal {
		locations = []string{c.Location + "-b", c.Location + "-c", c.Location + "-d"}
	}
	ipConfig := &containerpb.ControlPlaneEndpointsConfig_IPEndpointsConfig{
		Enabled:              proto.Bool(true),
		EnablePublicEndpoint: proto.Bool(true),
		PublicEndpoint:       a.addr,
		PrivateEndpoint:      "10.128.0.2",
	}
	endpoints := &containerpb.ControlPlaneEndpointsConfig{IpEndpointsConfig: ipConfig}
	if a.dnsName != "" {
		endpoints.DnsEndpointConfig = &containerpb.ControlPlaneEndpointsConfig_DNSEndpointConfig{
			Endpoint:             a.dnsName,
			AllowExternalTraffic: proto.Bool(true),
		}
	}
	created := a.created.UTC().Format(time.RFC3339)
	pc := &containerpb.Cluster{
		Name:                  c.Name,
		Id:                    uid(a.resource),
		Location:              c.Location,
		Locations:             locations,
		Endpoint:              a.addr,
		Status:                containerpb.Cluster_RUNNING,
		CurrentMasterVersion:  strings.TrimPrefix(kubeVersion, "v"),
		InitialClusterVersion: strings.TrimPrefix(kubeVersion, "v"),
		CreateTime:            created,
		Network:               "default",
		Subnetwork:            "default",
		SelfLink:              "https://container.googleapis.com/v1/projects/" + p.ID + "/locations/" + c.Location + "/clusters/" + c.Name,
		MasterAuth: &containerpb.MasterAuth{
			ClusterCaCertificate: base64.StdEncoding.EncodeToString(a.ca.certPEM),
		},
		ControlPlaneEndpointsConfig: endpoints,
		NodePools: []*containerpb.NodePool{{
			Name:             "default-pool",
			InitialNodeCount: 1,
			Status:           containerpb.NodePool_RUNNING,
			Version:          strings.TrimPrefix(kubeVersion, "v"),
			Locations:        locations,
			SelfLink:         "https://container.googleapis.com/v1/projects/" + p.ID + "/locations/" + c.Location + "/clusters/" + c.Name + "/nodePools/default-pool",
		}},
	}
	// Google still fills these deprecated fields, and older clients read them.
	//lint:ignore SA1019 see above
	pc.Zone = c.Location
	//lint:ignore SA1019 see above
	pc.CurrentNodeVersion = pc.CurrentMasterVersion
	//lint:ignore SA1019 see above
	pc.PrivateClusterConfig = &containerpb.PrivateClusterConfig{PrivateEndpoint: "10.128.0.2", PublicEndpoint: a.addr}
	return pc, nil
}

// isZone reports whether a location is a zone ("europe-west1-b") rather
// than a region ("us-east1").
func isZone(location string) bool {
	parts := strings.Split(location, "-")
	return len(parts) == 3 && len(parts[2]) == 1
}

// call is a parsed container API request.
type call struct{ project, location, cluster string }
