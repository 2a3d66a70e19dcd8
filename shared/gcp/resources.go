package gcp

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	artifactregistry "cloud.google.com/go/artifactregistry/apiv1"
	"cloud.google.com/go/artifactregistry/apiv1/artifactregistrypb"
	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"cloud.google.com/go/storage"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/cloudresourcemanager/v1"
	"google.golang.org/api/iterator"
	"google.golang.org/genproto/googleapis/cloud/location"
)

// Permissions tested to prove access.
var (
	// projectPermissions: a gcp-generic connector must hold at least one of them.
	projectPermissions = []string{
		"resourcemanager.projects.get",
		"storage.buckets.list",
		"container.clusters.list",
		"artifactregistry.repositories.list",
		"iam.serviceAccounts.list",
		"compute.instances.list",
	}
	// bucketPermissions: a gcs-bucket connector must hold at least one of them on its bucket.
	bucketPermissions = []string{
		"storage.buckets.get",
		"storage.objects.list",
		"storage.objects.get",
		"storage.objects.create",
	}
)

// arConcurrency bounds the concurrent per-location repository listings.
const arConcurrency = 8

// ListResources returns the canonical ids of the resources of type rt in the connector's
// project that gr reaches; with id (canonical) it checks that one resource.
func (g *Google) ListResources(ctx context.Context, gr connector.Grant, rt connector.ResourceType, id string) ([]string, error) {
	if gr.Connector == nil {
		return nil, connector.Errorf(connector.ErrInternal, "gcp: grant without a connector")
	}
	if gr.Connector.Config.ProjectID == "" {
		return nil, connector.FieldErrorf("configuration.project_id", "the connector has no project_id")
	}
	list, ok := listers[rt]
	if !ok {
		return nil, connector.FieldErrorf("resource_type", "unknown resource type %q", rt)
	}
	tok, err := g.listToken(ctx, gr)
	if err != nil {
		return nil, err
	}
	return list(g, ctx, g.authed(tok), gr.Connector, id)
}

// listers hold the Google calls of every resource type: each checks the resource that id
// (canonical) names, or with id "" lists the type's resources in connector c's project, through
// hc, a client that sends a listing token. TestEveryTypeHasAGoogleLister fails for a resource
// type of package resourcetype without an entry.
var listers = map[resourceid.Type]lister{
	resourceid.GCPGeneric:        (*Google).projectResources,
	resourceid.GCSBucket:         overClient((*Google).storageClient, checkBucket, listBuckets),
	resourceid.KubernetesCluster: overClient((*Google).containerClient, checkCluster, listClusters),
	resourceid.DockerRegistry:    overClient((*Google).arClient, checkRegistry, listRegistries),
}

// lister is the Google calls of one resource type (see listers).
type lister func(g *Google, ctx context.Context, hc *http.Client, c *connector.Connector, id string) ([]string, error)

// overClient is the lister of a resource type that one API serves: it opens a client of the
// API with open, checks resource id with check or, with id "", lists the resources of the
// connector's project with list, and closes the client.
func overClient[C interface{ Close() error }](
	open func(g *Google, ctx context.Context, hc *http.Client) (C, error),
	check func(ctx context.Context, api C, project, id string) ([]string, error),
	list func(ctx context.Context, api C, c *connector.Connector) ([]string, error),
) lister {
	return func(g *Google, ctx context.Context, hc *http.Client, c *connector.Connector, id string) ([]string, error) {
		api, err := open(g, ctx, hc)
		if err != nil {
			return nil, err
		}
		defer api.Close()
		if id != "" {
			return check(ctx, api, c.Config.ProjectID, id)
		}
		return list(ctx, api, c)
	}
}

// projectResources checks the connector's project, the one gcp-generic resource.
func (g *Google) projectResources(ctx context.Context, hc *http.Client, c *connector.Connector, id string) ([]string, error) {
	project := c.Config.ProjectID
	if id != "" && id != project {
		return nil, connector.Errorf(connector.ErrInvalid, "gcp-generic resource %q is not the connector's project %q", id, project)
	}
	return g.checkProject(ctx, hc, project)
}

// checkProject proves access to project: projects.get, then testIamPermissions.
func (g *Google) checkProject(ctx context.Context, hc *http.Client, project string) ([]string, error) {
	svc, p, err := g.project(ctx, hc, project)
	if err != nil {
		return nil, upstream("get project "+project, err)
	}
	held, err := retry(ctx, func(ctx context.Context) (*cloudresourcemanager.TestIamPermissionsResponse, error) {
		return svc.Projects.TestIamPermissions(project, &cloudresourcemanager.TestIamPermissionsRequest{Permissions: projectPermissions}).Context(ctx).Do()
	})
	if err != nil {
		return nil, upstream("test permissions on project "+project, err)
	}
	if len(held.Permissions) == 0 {
		return nil, connector.Errorf(connector.ErrUpstreamDenied,
			"the credentials hold none of %s on project %q", strings.Join(projectPermissions, ", "), project)
	}
	return []string{p.ProjectId}, nil
}

// project reads project (projects.get, retried) with a resource manager client over hc, and
// returns the client for further calls. Google's error is left for the caller to judge; a
// client that cannot be built is ErrInternal already.
func (g *Google) project(ctx context.Context, hc *http.Client, project string) (*cloudresourcemanager.Service, *cloudresourcemanager.Project, error) {
	svc, err := g.resourceManager(ctx, hc)
	if err != nil {
		return nil, nil, err
	}
	p, err := retry(ctx, func(ctx context.Context) (*cloudresourcemanager.Project, error) {
		return svc.Projects.Get(project).Context(ctx).Do()
	})
	return svc, p, err
}

// ifUnavailable is the error err of the call what when Google is unavailable or gcpconn
// itself failed (ErrInternal), and nil when Google refused: for checks that a refusal only
// leaves undecided.
func ifUnavailable(what string, err error) error {
	switch connector.KindOf(upstream("", err)) {
	case connector.ErrUpstreamUnavailable, connector.ErrInternal:
		return upstream(what, err)
	}
	return nil
}

func (g *Google) resourceManager(ctx context.Context, hc *http.Client) (*cloudresourcemanager.Service, error) {
	return apiClient(ctx, cloudresourcemanager.NewService, "resource manager", g.ep.ResourceManager+"/", hc)
}

func (g *Google) storageClient(ctx context.Context, hc *http.Client) (*storage.Client, error) {
	c, err := apiClient(ctx, storage.NewClient, "storage", g.ep.Storage+"/storage/v1/", hc)
	if err != nil {
		return nil, err
	}
	// Cloud Storage documents 408, 429 and 5xx as retryable for idempotent calls; the client
	// retries those, here at most maxAttempts times with a short backoff.
	c.SetRetry(storage.WithMaxAttempts(maxAttempts), storage.WithPolicy(storage.RetryIdempotent),
		storage.WithBackoff(gax.Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2}))
	return c, nil
}

// listBuckets lists the buckets of the connector's project.
func listBuckets(ctx context.Context, c *storage.Client, conn *connector.Connector) ([]string, error) {
	project := conn.Config.ProjectID
	ids := []string{}
	it := c.Buckets(ctx, project)
	for {
		b, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, upstream("list GCS buckets in project "+project, err)
		}
		ids = append(ids, "gs://"+b.Name)
	}
	slices.Sort(ids)
	return ids, nil
}

// checkBucket proves access to one bucket with its testPermissions, which needs no
// bucket-level read permission of its own (object-only roles pass). When the credentials hold
// none, Google's own words are fetched with buckets.get ("… does not have storage.buckets.get
// access to the Google Cloud Storage bucket …"). Whether the bucket belongs to the connector's
// project is BucketProject's question, which the core asks.
func checkBucket(ctx context.Context, c *storage.Client, _, id string) ([]string, error) {
	r, err := resourceid.Parse(resourceid.GCSBucket, id)
	if err != nil {
		return nil, err
	}
	held, err := retry(ctx, func(ctx context.Context) ([]string, error) {
		return c.Bucket(r.Name).IAM().TestPermissions(ctx, bucketPermissions)
	})
	if err != nil {
		return nil, upstream("test permissions on bucket "+r.Name, err)
	}
	if len(held) == 0 {
		if _, err := c.Bucket(r.Name).Attrs(ctx); err != nil {
			return nil, upstream("get GCS bucket "+r.Name, err)
		}
		return nil, connector.Errorf(connector.ErrUpstreamDenied,
			"the credentials hold none of %s on bucket %q (or it does not exist)", strings.Join(bucketPermissions, ", "), r.Name)
	}
	return []string{r.String()}, nil
}

// BucketProject reports whether bucket belongs to the connector's project: true when Google
// says so, false when it could not be read, and ErrInvalid naming both projects when it
// belongs to another.
func (g *Google) BucketProject(ctx context.Context, gr connector.Grant, bucket string) (bool, error) {
	if gr.Connector == nil {
		return false, connector.Errorf(connector.ErrInternal, "gcp: grant without a connector")
	}
	tok, err := g.listToken(ctx, gr)
	if err != nil {
		return false, err
	}
	hc := g.authed(tok)
	c, err := g.storageClient(ctx, hc)
	if err != nil {
		return false, err
	}
	defer c.Close()
	return g.bucketProject(ctx, c, hc, bucket, gr.Connector.Config.ProjectID)
}

// bucketProject checks that bucket belongs to the connector's project: bucket metadata
// (storage.buckets.get) names the project number, and projects.get the connector's. A
// bucket known to belong to another project is ErrInvalid, naming both. When either number
// cannot be read, checked is false and the bucket's IAM, which the token obeys anyway, is
// what guards it; callers say so instead of claiming a check.
func (g *Google) bucketProject(ctx context.Context, c *storage.Client, hc *http.Client, bucket, project string) (checked bool, err error) {
	attrs, err := retry(ctx, func(ctx context.Context) (*storage.BucketAttrs, error) { return c.Bucket(bucket).Attrs(ctx) })
	if err != nil {
		return false, ifUnavailable("get GCS bucket "+bucket, err)
	}
	if attrs.ProjectNumber == 0 {
		return false, nil
	}
	_, p, err := g.project(ctx, hc, project)
	if err != nil {
		return false, ifUnavailable("get project "+project, err)
	}
	if p.ProjectNumber == 0 {
		return false, nil
	}
	if uint64(p.ProjectNumber) != attrs.ProjectNumber {
		return true, connector.Errorf(connector.ErrInvalid,
			"bucket %q belongs to project number %d, not to the connector's project %q (number %d): a connector reaches the resources of its own project only",
			bucket, attrs.ProjectNumber, project, p.ProjectNumber)
	}
	return true, nil
}

func (g *Google) containerClient(ctx context.Context, hc *http.Client) (*container.ClusterManagerClient, error) {
	return apiClient(ctx, container.NewClusterManagerRESTClient, "container", g.ep.Container, hc)
}

// checkCluster resolves and checks cluster id of project.
func checkCluster(ctx context.Context, c *container.ClusterManagerClient, project, id string) ([]string, error) {
	cl, err := getCluster(ctx, c, project, id)
	if err != nil {
		return nil, err
	}
	return []string{cl.GetLocation() + "/" + cl.GetName()}, nil
}

// listClusters lists the clusters of the connector's project in every location.
func listClusters(ctx context.Context, c *container.ClusterManagerClient, conn *connector.Connector) ([]string, error) {
	return projectClusters(ctx, c, conn.Config.ProjectID)
}

// projectClusters lists the clusters of project in every location.
func projectClusters(ctx context.Context, c *container.ClusterManagerClient, project string) ([]string, error) {
	resp, err := c.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/" + project + "/locations/-"}, gaxRetry())
	if err != nil {
		return nil, upstream("list GKE clusters in project "+project, err)
	}
	ids := []string{}
	for _, cl := range resp.GetClusters() {
		ids = append(ids, cl.GetLocation()+"/"+cl.GetName())
	}
	slices.Sort(ids)
	return ids, nil
}

// getCluster fetches cluster id (location/name, or a bare name resolved by listing).
func getCluster(ctx context.Context, c *container.ClusterManagerClient, project, id string) (*containerpb.Cluster, error) {
	r, err := resourceid.Parse(resourceid.KubernetesCluster, id)
	if err != nil {
		return nil, err
	}
	if r.Location == "" {
		listed, err := projectClusters(ctx, c, project)
		if err != nil {
			return nil, err
		}
		match, err := resourceid.MatchCluster(listed, id)
		if err != nil {
			return nil, err
		}
		if r, err = resourceid.Parse(resourceid.KubernetesCluster, match); err != nil {
			return nil, err
		}
	}
	name := r.ClusterName(project)
	cl, err := c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: name}, gaxRetry())
	if err != nil {
		return nil, upstream("get GKE cluster "+r.String(), err)
	}
	return cl, nil
}

// Cluster describes GKE cluster id: its control plane URL and CA. The DNS endpoint is
// preferred when it allows external traffic (it has a publicly trusted certificate, so no
// CA); otherwise the IP endpoint with the cluster CA.
func (g *Google) Cluster(ctx context.Context, gr connector.Grant, id string) (connector.ClusterInfo, error) {
	if gr.Connector == nil {
		return connector.ClusterInfo{}, connector.Errorf(connector.ErrInternal, "gcp: grant without a connector")
	}
	tok, err := g.listToken(ctx, gr)
	if err != nil {
		return connector.ClusterInfo{}, err
	}
	c, err := g.containerClient(ctx, g.authed(tok))
	if err != nil {
		return connector.ClusterInfo{}, err
	}
	defer c.Close()
	cl, err := getCluster(ctx, c, gr.Connector.Config.ProjectID, id)
	if err != nil {
		return connector.ClusterInfo{}, err
	}
	info := connector.ClusterInfo{ID: cl.GetLocation() + "/" + cl.GetName()}
	ca := ""
	if b64 := cl.GetMasterAuth().GetClusterCaCertificate(); b64 != "" {
		pem, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return connector.ClusterInfo{}, connector.Errorf(connector.ErrUpstreamUnavailable, "GKE cluster %s has an unreadable CA certificate", info.ID)
		}
		ca = string(pem)
	}
	dns := cl.GetControlPlaneEndpointsConfig().GetDnsEndpointConfig()
	switch {
	case dns.GetEndpoint() != "" && dns.GetAllowExternalTraffic():
		if addr, ok := g.ep.GKEDNSEndpoints[dns.GetEndpoint()]; ok {
			// A local fake: the name does not resolve and its certificate is the cluster CA's.
			info.Server, info.CertificateAuthority = "https://"+addr, ca
		} else {
			info.Server = "https://" + dns.GetEndpoint()
		}
	case cl.GetEndpoint() != "":
		info.Server, info.CertificateAuthority = "https://"+cl.GetEndpoint(), ca
	default:
		return connector.ClusterInfo{}, connector.Errorf(connector.ErrUpstreamNotFound,
			"GKE cluster %s has no control plane endpoint that gcpconn can hand out", info.ID)
	}
	return info, nil
}

func (g *Google) arClient(ctx context.Context, hc *http.Client) (*artifactregistry.Client, error) {
	return apiClient(ctx, artifactregistry.NewRESTClient, "artifact registry", g.ep.ArtifactRegistry, hc)
}

// checkRegistry fetches the repository behind a docker-registry id and checks its format.
func checkRegistry(ctx context.Context, c *artifactregistry.Client, _, id string) ([]string, error) {
	r, err := resourceid.Parse(resourceid.DockerRegistry, id)
	if err != nil {
		return nil, err
	}
	repo, err := c.GetRepository(ctx, &artifactregistrypb.GetRepositoryRequest{Name: r.RepositoryName()}, gaxRetry())
	if err != nil {
		return nil, upstream("get Artifact Registry repository "+r.RepositoryName(), err)
	}
	if repo.GetFormat() != artifactregistrypb.Repository_DOCKER {
		return nil, connector.Errorf(connector.ErrInvalid, "Artifact Registry repository %s is a %s repository, not a Docker registry",
			r.RepositoryName(), repo.GetFormat())
	}
	return []string{r.String()}, nil
}

// listRegistries lists the Docker repositories of the connector's project in every location;
// a gcr.io-domain repository is listed under both its addresses. A legacy GCR host the
// connector was registered with (its resource id) is listed as it is even when no gcr.io-domain
// repository serves it.
func listRegistries(ctx context.Context, c *artifactregistry.Client, conn *connector.Connector) ([]string, error) {
	project, own := conn.Config.ProjectID, conn.ResourceID
	var locs []string
	it := c.ListLocations(ctx, &location.ListLocationsRequest{Name: "projects/" + project}, gaxRetry())
	for {
		l, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, upstream("list Artifact Registry locations of project "+project, err)
		}
		locs = append(locs, l.GetLocationId())
	}
	var (
		mu       sync.Mutex
		ids      = []string{}
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, arConcurrency)
	)
	for _, loc := range locs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			found, err := listDockerRepos(ctx, c, project, loc)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			ids = append(ids, found...)
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if own != "" {
		if r, err := resourceid.Parse(resourceid.DockerRegistry, own); err == nil && r.IsGCR() && !slices.Contains(ids, r.String()) {
			ids = append(ids, r.String())
		}
	}
	slices.SortFunc(ids, registryOrder)
	return ids, nil
}

// gcrHostOrder is the order in which Google (and the product page) lists the legacy hosts.
var gcrHostOrder = []string{"gcr.io/", "us.gcr.io/", "eu.gcr.io/", "asia.gcr.io/"}

// registryOrder sorts docker-registry ids as the product page lists them: the legacy GCR
// hosts first (gcr.io, us., eu., asia.), then the Artifact Registry URIs alphabetically.
func registryOrder(a, b string) int {
	rank := func(id string) int {
		for i, h := range gcrHostOrder {
			if strings.HasPrefix(id, h) {
				return i
			}
		}
		return len(gcrHostOrder)
	}
	if c := rank(a) - rank(b); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func listDockerRepos(ctx context.Context, c *artifactregistry.Client, project, loc string) ([]string, error) {
	var ids []string
	parent := "projects/" + project + "/locations/" + loc
	it := c.ListRepositories(ctx, &artifactregistrypb.ListRepositoriesRequest{Parent: parent}, gaxRetry())
	for {
		repo, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return ids, nil
		}
		if err != nil {
			return nil, upstream("list Artifact Registry repositories in "+parent, err)
		}
		if repo.GetFormat() != artifactregistrypb.Repository_DOCKER {
			continue
		}
		r, err := resourceid.Parse(resourceid.DockerRegistry, repo.GetName())
		if err != nil {
			continue
		}
		ids = append(ids, r.String())
		if l, ok := r.LegacyGCR(); ok {
			// A gcr.io-domain repository has two addresses: its Artifact Registry URI and
			// the legacy host it serves (us-docker.pkg.dev/P/gcr.io and gcr.io/P).
			ids = append(ids, l.String())
		}
	}
}
