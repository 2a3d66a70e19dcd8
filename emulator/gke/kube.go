package gke

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/emulator/internal/rest"
)

// apiServer is one cluster's Kubernetes API server: just enough of it for
// kubectl to authenticate, discover, list namespaces and run cluster-info (which
// lists the services of kube-system labelled kubernetes.io/cluster-service=true).
type apiServer struct {
	gke      *Server
	resource string // projects/P/locations/L/clusters/C
	created  time.Time
	ca       *clusterCA
	addr     string           // 127.0.0.1:PORT
	dnsName  string           // DNS endpoint name, when the cluster has one
	dnsCert  *tls.Certificate // served for dnsName when set
	srv      *http.Server
}

func (a *apiServer) start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for cluster %s: %w", a.resource, err)
	}
	a.addr = ln.Addr().String()
	h := rest.Wrap(a.gke.opts.Faults, "kubernetes.request", http.HandlerFunc(a.serveHTTP))
	a.srv = &http.Server{
		Handler: h,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if a.dnsCert != nil && strings.EqualFold(hello.ServerName, a.dnsName) {
				return a.dnsCert, nil
			}
			return &a.ca.leaf, nil
		}},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          quietLog(),
	}
	go func() {
		if err := a.srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.gke.logf("gke: API server of %s stopped: %v", a.resource, err)
		}
	}()
	return nil
}

// k8sStatus is a Kubernetes metav1.Status.
type k8sStatus struct {
	Kind       string         `json:"kind"`
	APIVersion string         `json:"apiVersion"`
	Metadata   map[string]any `json:"metadata"`
	Status     string         `json:"status"`
	Message    string         `json:"message"`
	Reason     string         `json:"reason"`
	Details    map[string]any `json:"details,omitempty"`
	Code       int            `json:"code"`
}

func writeStatus(w http.ResponseWriter, code int, reason, message string, details map[string]any) {
	writeK8s(w, code, k8sStatus{Kind: "Status", APIVersion: "v1", Metadata: map[string]any{}, Status: "Failure",
		Message: message, Reason: reason, Details: details, Code: code})
}

func writeK8s(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// serveHTTP authenticates the bearer token (401 otherwise), requires
// container.clusters.get on the cluster as GKE does for any access, and
// authorises the Kubernetes verb through the matching container.* IAM
// permission (GKE's IAM authoriser), answering 403 with GKE's wording.
func (a *apiServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "the server does not allow this method on the requested resource", nil)
		return
	}
	t, gerr := a.gke.opts.Auth.Check(r, "container.clusters.get", a.resource)
	if gerr != nil {
		if gerr.Code == http.StatusUnauthorized {
			writeStatus(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized", nil)
			return
		}
		writeStatus(w, http.StatusForbidden, "Forbidden",
			fmt.Sprintf("forbidden: User %q cannot get path %q: requires one of [\"container.clusters.get\"] permission(s).", user(t.Email, t.Member), r.URL.Path), nil)
		return
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == "/version":
		writeK8s(w, http.StatusOK, map[string]string{
			"major": "1", "minor": "33", "gitVersion": kubeVersion, "gitCommit": "5d8b9e8b6c5a8a8f0e2f1d6c0a4b3e2d1c0f9e8d",
			"gitTreeState": "clean", "buildDate": "2025-10-01T12:00:00Z", "goVersion": "go1.24.6", "compiler": "gc", "platform": "linux/amd64",
		})
	case path == "/api":
		writeK8s(w, http.StatusOK, map[string]any{
			"kind": "APIVersions", "versions": []string{"v1"},
			"serverAddressByClientCIDRs": []map[string]string{{"clientCIDR": "0.0.0.0/0", "serverAddress": a.addr}},
		})
	case path == "/apis":
		writeK8s(w, http.StatusOK, map[string]any{"kind": "APIGroupList", "apiVersion": "v1", "groups": []any{}})
	case path == "/api/v1":
		writeK8s(w, http.StatusOK, map[string]any{
			"kind": "APIResourceList", "groupVersion": "v1",
			"resources": []map[string]any{{
				"name": "namespaces", "singularName": "namespace", "namespaced": false, "kind": "Namespace",
				"verbs": []string{"get", "list"}, "shortNames": []string{"ns"},
			}, {
				"name": "services", "singularName": "service", "namespaced": true, "kind": "Service",
				"verbs": []string{"get", "list"}, "shortNames": []string{"svc"}, "categories": []string{"all"},
			}},
		})
	case path == "/api/v1/services":
		a.listServices(w, r, "")
	case strings.HasPrefix(path, "/api/v1/namespaces/") && strings.HasSuffix(path, "/services") && strings.Count(path, "/") == 5:
		a.listServices(w, r, strings.TrimSuffix(strings.TrimPrefix(path, "/api/v1/namespaces/"), "/services"))
	case path == "/api/v1/namespaces":
		if !a.allowed(w, r, "list", "namespaces", "container.namespaces.list") {
			return
		}
		items := make([]map[string]any, 0, len(namespaces))
		for _, n := range namespaces {
			items = append(items, a.namespace(n))
		}
		writeK8s(w, http.StatusOK, map[string]any{"kind": "NamespaceList", "apiVersion": "v1", "metadata": map[string]string{"resourceVersion": "1"}, "items": items})
	case strings.HasPrefix(path, "/api/v1/namespaces/") && strings.Count(path, "/") == 4:
		name := strings.TrimPrefix(path, "/api/v1/namespaces/")
		if !a.allowed(w, r, "get", "namespaces", "container.namespaces.get") {
			return
		}
		for _, n := range namespaces {
			if n == name {
				writeK8s(w, http.StatusOK, a.namespace(n))
				return
			}
		}
		writeStatus(w, http.StatusNotFound, "NotFound", fmt.Sprintf("namespaces %q not found", name),
			map[string]any{"name": name, "kind": "namespaces"})
	default:
		writeStatus(w, http.StatusNotFound, "NotFound", "the server could not find the requested resource", nil)
	}
}

var namespaces = []string{"default", "kube-node-lease", "kube-public", "kube-system"}

// service is one Service object of every fake cluster: those a GKE cluster runs in
// kube-system and that kubectl cluster-info shows.
type service struct {
	namespace, name, displayName, clusterIP string
	portName                                string
	port                                    int
	clusterService                          bool // labelled kubernetes.io/cluster-service=true
}

var services = []service{
	{"default", "kubernetes", "", "10.0.0.1", "https", 443, false},
	{"kube-system", "default-http-backend", "GLBCDefaultBackend", "10.0.2.10", "http", 80, true},
	{"kube-system", "kube-dns", "KubeDNS", "10.0.0.10", "dns", 53, true},
	{"kube-system", "metrics-server", "Metrics-server", "10.0.11.48", "", 443, true},
}

// listServices answers a ServiceList of namespace ("" = every namespace), filtered by the
// equality-based labelSelector (k=v or k==v, comma-separated) that kubectl sends.
func (a *apiServer) listServices(w http.ResponseWriter, r *http.Request, namespace string) {
	if !a.allowed(w, r, "list", "services", "container.services.list") {
		return
	}
	want := map[string]string{}
	if sel := r.URL.Query().Get("labelSelector"); sel != "" {
		for term := range strings.SplitSeq(sel, ",") {
			k, v, ok := strings.Cut(strings.Replace(term, "==", "=", 1), "=")
			if !ok {
				writeStatus(w, http.StatusBadRequest, "BadRequest",
					fmt.Sprintf("unable to parse requirement: %q: this fake supports only key=value selectors", term), nil)
				return
			}
			want[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	items := []map[string]any{}
	for _, s := range services {
		if namespace != "" && s.namespace != namespace {
			continue
		}
		obj := a.service(s)
		labels := obj["metadata"].(map[string]any)["labels"].(map[string]string)
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if match {
			items = append(items, obj)
		}
	}
	writeK8s(w, http.StatusOK, map[string]any{"kind": "ServiceList", "apiVersion": "v1", "metadata": map[string]string{"resourceVersion": "1"}, "items": items})
}

func (a *apiServer) service(s service) map[string]any {
	labels := map[string]string{}
	if s.clusterService {
		labels["kubernetes.io/cluster-service"] = "true"
		labels["kubernetes.io/name"] = s.displayName
	}
	port := map[string]any{"port": s.port, "protocol": "TCP", "targetPort": s.port}
	if s.portName != "" {
		port["name"] = s.portName
	}
	return map[string]any{
		"kind": "Service", "apiVersion": "v1",
		"metadata": map[string]any{
			"name": s.name, "namespace": s.namespace, "uid": uid(a.resource + "/" + s.namespace + "/" + s.name),
			"resourceVersion": "1", "creationTimestamp": a.created.UTC().Format(time.RFC3339), "labels": labels,
		},
		"spec":   map[string]any{"type": "ClusterIP", "clusterIP": s.clusterIP, "ports": []any{port}},
		"status": map[string]any{"loadBalancer": map[string]any{}},
	}
}

const kubeVersion = "v1.33.5-gke.1308000"

// allowed applies GKE's IAM authoriser for one Kubernetes verb.
func (a *apiServer) allowed(w http.ResponseWriter, r *http.Request, verb, resource, permission string) bool {
	t, gerr := a.gke.opts.Auth.Check(r, permission, a.resource)
	if gerr == nil {
		return true
	}
	writeStatus(w, http.StatusForbidden, "Forbidden",
		fmt.Sprintf("%s is forbidden: User %q cannot %s resource %q in API group \"\" at the cluster scope: requires one of [%q] permission(s).",
			resource, user(t.Email, t.Member), verb, resource, permission),
		map[string]any{"kind": resource})
	return false
}

func user(email, member string) string {
	if email != "" {
		return email
	}
	return member
}

func (a *apiServer) namespace(name string) map[string]any {
	return map[string]any{
		"kind": "Namespace", "apiVersion": "v1",
		"metadata": map[string]any{
			"name": name, "uid": uid(a.resource + "/" + name), "resourceVersion": "1",
			"creationTimestamp": a.created.UTC().Format(time.RFC3339),
			"labels":            map[string]string{"kubernetes.io/metadata.name": name},
		},
		"spec":   map[string]any{"finalizers": []string{"kubernetes"}},
		"status": map[string]string{"phase": "Active"},
	}
}
