// Package secrets is the fake Secret Manager: the v1 REST API that
// secretmanager.NewRESTClient calls, with Google's states, checks and
// notifications.
//
// Vocabulary:
//   - a secret ("projects/P/secrets/S") has labels, annotations, topics,
//     replication, an optional rotation schedule and numbered versions;
//     resource names in responses carry the project NUMBER, as Google's do,
//     and requests may use the project id or number;
//   - a version ("projects/P/secrets/S/versions/N", "latest" = the most
//     recently created one) holds up to 64 KiB of payload and is ENABLED,
//     DISABLED or DESTROYED; accessing a disabled or destroyed version is
//     FAILED_PRECONDITION; destroying drops the payload for good;
//   - IAM: each call checks Google's permission (secretmanager.secrets.create
//     and .list on the project, secretmanager.secrets.get|update|delete and
//     secretmanager.versions.add|list on the secret,
//     secretmanager.versions.get|access|enable|disable|destroy on the
//     version) through the Authorizer; bindings on the project or the secret
//     apply;
//   - a notification is what Secret Manager publishes to each of a secret's
//     topics on every mutation: attributes eventType (SECRET_CREATE,
//     SECRET_UPDATE, SECRET_DELETE, SECRET_VERSION_ADD, SECRET_VERSION_ENABLE,
//     SECRET_VERSION_DISABLE, SECRET_VERSION_DESTROY, SECRET_ROTATE),
//     dataFormat "JSON_API_V1", secretId (the secret's full name) and, for
//     version events, versionId (the version's full name); data is the proto3
//     JSON of the Secret, or of the SecretVersion for version events (as
//     Google documents). A Notifier delivers them: PubSubNotifier to the
//     Pub/Sub emulator, PushNotifier to an HTTP endpoint in Pub/Sub push
//     format. Delivery happens before the API call returns, under the fault
//     point "secretmanager.notify" (counted; a fault drops the message).
//
// Secret payloads never appear in logs or error messages.
package secrets

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gcpconn/gcpconn/emulator/googleerr"
	"github.com/gcpconn/gcpconn/emulator/internal/rest"
	"github.com/gcpconn/gcpconn/emulator/world"
)

// Catalog resolves projects (*world.World satisfies it).
type Catalog interface {
	FindProject(idOrNumber string) (world.Project, bool)
}

// Notification is one message Secret Manager publishes to a topic.
type Notification struct {
	Attributes map[string]string
	Data       []byte // proto3 JSON of the Secret or SecretVersion
}

// Notifier delivers notifications to a topic ("projects/P/topics/T").
type Notifier interface {
	Notify(ctx context.Context, topic string, n Notification) error
}

// Options configure a Server.
type Options struct {
	World    Catalog         // required
	Auth     rest.Authorizer // required
	Faults   rest.Wrapper    // optional
	Notifier Notifier        // optional: nil drops notifications
	// Now is the clock for create/destroy times and rotation (time.Now if nil).
	Now func() time.Time
	// Logf receives delivery failures (dropped if nil). Never payloads.
	Logf func(format string, args ...any)
}

// MaxPayloadBytes is Secret Manager's payload limit.
const MaxPayloadBytes = 64 << 10

// Server is the fake Secret Manager REST API (an http.Handler).
type Server struct {
	opts   Options
	routes map[string]http.Handler
	notify http.Handler // delivery under the "secretmanager.notify" fault point

	mu      sync.Mutex
	secrets map[string]*secret // by "PROJECT_ID/SECRET_ID"
}

type secret struct {
	pb       *secretmanagerpb.Secret
	versions []*version // versions[i] is version i+1
	etagN    int
}

type version struct {
	pb    *secretmanagerpb.SecretVersion
	data  []byte
	etagN int
}

// New builds an empty Server.
func New(opts Options) (*Server, error) {
	if opts.World == nil || opts.Auth == nil {
		return nil, fmt.Errorf("secrets: Options.World and Options.Auth are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, secrets: map[string]*secret{}}
	s.routes = rest.Routes(opts.Faults, s.checked(map[string]http.HandlerFunc{
		"secretmanager.secrets.create":  s.createSecret,
		"secretmanager.secrets.list":    s.listSecrets,
		"secretmanager.secrets.get":     s.getSecret,
		"secretmanager.secrets.update":  s.updateSecret,
		"secretmanager.secrets.delete":  s.deleteSecret,
		"secretmanager.versions.add":    s.addVersion,
		"secretmanager.versions.list":   s.listVersions,
		"secretmanager.versions.get":    s.getVersion,
		"secretmanager.versions.access": s.accessVersion,
		"secretmanager.versions.enable": func(w http.ResponseWriter, r *http.Request) {
			s.setState(w, r, secretmanagerpb.SecretVersion_ENABLED)
		},
		"secretmanager.versions.disable": func(w http.ResponseWriter, r *http.Request) {
			s.setState(w, r, secretmanagerpb.SecretVersion_DISABLED)
		},
		"secretmanager.versions.destroy": func(w http.ResponseWriter, r *http.Request) {
			s.setState(w, r, secretmanagerpb.SecretVersion_DESTROYED)
		},
	}))
	s.notify = rest.Wrap(opts.Faults, "secretmanager.notify", http.HandlerFunc(s.deliver))
	return s, nil
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

// call is a parsed request: project (as given), secret id, version ("" for
// secret-level calls), the resolved project and the number of path segments
// (4 names the project, 5 and 6 a secret, 7 a version).
type call struct {
	project, secret, version string
	proj                     world.Project
	known                    bool
	segments                 int
}

func (q call) projectRes() string { return "projects/" + q.projectID() }

func (q call) projectID() string {
	if q.known {
		return q.proj.ID
	}
	return q.project
}

func (q call) secretRes() string { return q.projectRes() + "/secrets/" + q.secret }

func (q call) versionRes() string { return q.secretRes() + "/versions/" + q.version }

// resource is what the call's permission is checked on: the version for version calls,
// the secret for the other calls on one secret, else the project (create and list).
func (q call) resource() string {
	switch {
	case q.segments >= 7:
		return q.versionRes()
	case q.segments >= 5:
		return q.secretRes()
	}
	return q.projectRes()
}

// secretName is the name Google prints: with the project number.
func (q call) secretName() string {
	if !q.known {
		return "projects/" + q.project + "/secrets/" + q.secret
	}
	return "projects/" + strconv.FormatInt(q.proj.Number, 10) + "/secrets/" + q.secret
}

func (q call) key() string { return q.projectID() + "/" + q.secret }

// endpoints names the endpoint of each call ServeHTTP routes, by the number of path segments
// after the host (6 and 7 are under .../versions) and "METHOD:verb" (the verb is the path's
// ":..." suffix, often none).
var endpoints = map[int]map[string]string{
	4: {"POST:": "secretmanager.secrets.create", "GET:": "secretmanager.secrets.list"},
	5: {"GET:": "secretmanager.secrets.get", "PATCH:": "secretmanager.secrets.update", "DELETE:": "secretmanager.secrets.delete",
		"POST:addVersion": "secretmanager.versions.add"},
	6: {"GET:": "secretmanager.versions.list"},
	7: {"GET:": "secretmanager.versions.get", "GET:access": "secretmanager.versions.access",
		"POST:enable": "secretmanager.versions.enable", "POST:disable": "secretmanager.versions.disable",
		"POST:destroy": "secretmanager.versions.destroy"},
}

// ServeHTTP routes the v1 REST API:
//
//	POST   /v1/projects/P/secrets?secretId=S           create
//	GET    /v1/projects/P/secrets                      list (pageSize, pageToken, filter)
//	GET    /v1/projects/P/secrets/S                    get
//	PATCH  /v1/projects/P/secrets/S?updateMask=...     update
//	DELETE /v1/projects/P/secrets/S                    delete (etag)
//	POST   /v1/projects/P/secrets/S:addVersion
//	GET    /v1/projects/P/secrets/S/versions           list (filter state:X)
//	GET    /v1/projects/P/secrets/S/versions/V         get ("latest" too)
//	GET    /v1/projects/P/secrets/S/versions/V:access
//	POST   /v1/projects/P/secrets/S/versions/V:enable|:disable|:destroy
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.Trim(r.URL.Path, "/")
	path, verb, _ := strings.Cut(path, ":")
	parts := strings.Split(path, "/")
	if len(parts) < 4 || parts[0] != "v1" || parts[1] != "projects" || parts[3] != "secrets" {
		googleerr.Write(w, googleerr.NotFound("Requested entity was not found."))
		return
	}
	q := call{project: parts[2], segments: len(parts)}
	q.proj, q.known = s.opts.World.FindProject(q.project)
	if len(parts) >= 5 {
		q.secret = parts[4]
	}
	if len(parts) >= 7 {
		q.version = parts[6]
	}
	endpoint, ok := endpoints[len(parts)][r.Method+":"+verb]
	if !ok || (len(parts) >= 6 && parts[5] != "versions") {
		googleerr.Write(w, googleerr.NotFound("Requested entity was not found."))
		return
	}
	s.routes[endpoint].ServeHTTP(w, rest.WithCall(r, q))
}

var secretIDRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,255}$`)
var topicRE = regexp.MustCompile(`^projects/[^/]+/topics/[a-zA-Z][a-zA-Z0-9._~%+-]{2,254}$`)
var labelKeyRE = regexp.MustCompile(`^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$`)
var labelValueRE = regexp.MustCompile(`^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$`)

// checked puts each endpoint's handler behind its IAM check: the endpoint's name is the
// permission, checked on the call's resource (call.resource). The check runs after the fault
// point, before the handler; a refusal is answered with Google's error.
func (s *Server) checked(handlers map[string]http.HandlerFunc) map[string]http.HandlerFunc {
	for endpoint, h := range handlers {
		handlers[endpoint] = func(w http.ResponseWriter, r *http.Request) {
			if _, gerr := s.opts.Auth.Check(r, endpoint, rest.CallFrom[call](r).resource()); gerr != nil {
				googleerr.Write(w, gerr)
				return
			}
			h(w, r)
		}
	}
	return handlers
}

func notFoundSecret(q call) *googleerr.Error {
	return googleerr.NotFound("Secret [" + q.secretName() + "] not found.")
}

// withSecret runs fn on the call's secret with mu held, or returns NOT_FOUND.
func (s *Server) withSecret(q call, fn func(sec *secret) *googleerr.Error) *googleerr.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, ok := s.secrets[q.key()]
	if !q.known || !ok {
		return notFoundSecret(q)
	}
	return fn(sec)
}

// withVersion runs fn on the call's secret and version (a number or "latest")
// with mu held, or returns NOT_FOUND (INVALID_ARGUMENT for a malformed version).
func (s *Server) withVersion(q call, fn func(sec *secret, v *version) *googleerr.Error) *googleerr.Error {
	return s.withSecret(q, func(sec *secret) *googleerr.Error {
		if q.version == "latest" {
			if len(sec.versions) == 0 {
				return googleerr.NotFound("Secret [" + q.secretName() + "] not found or has no versions.")
			}
			return fn(sec, sec.versions[len(sec.versions)-1])
		}
		n, err := strconv.Atoi(q.version)
		if err != nil || n < 1 {
			return googleerr.InvalidArgument("Invalid secret version id: " + q.version + ". Must be a positive integer or 'latest'.")
		}
		if n > len(sec.versions) {
			return googleerr.NotFound("Secret Version [" + q.secretName() + "/versions/" + strconv.Itoa(n) + "] not found.")
		}
		return fn(sec, sec.versions[n-1])
	})
}

// answer writes gerr, or m when gerr is nil.
func answer(w http.ResponseWriter, m proto.Message, gerr *googleerr.Error) {
	if gerr != nil {
		googleerr.Write(w, gerr)
		return
	}
	rest.WriteProto(w, m)
}

func (s *Server) createSecret(w http.ResponseWriter, r *http.Request) {
	q := rest.CallFrom[call](r)
	if !q.known {
		googleerr.Write(w, googleerr.NotFound("Project ["+q.project+"] not found."))
		return
	}
	q.secret = r.URL.Query().Get("secretId")
	if !secretIDRE.MatchString(q.secret) {
		googleerr.Write(w, googleerr.InvalidArgument("Secret ID ["+trunc(q.secret)+"] is invalid: must be 1-255 characters of letters, numbers, hyphens and underscores."))
		return
	}
	in := &secretmanagerpb.Secret{}
	if !readBody(w, r, in) {
		return
	}
	if in.GetReplication() == nil || (in.GetReplication().GetAutomatic() == nil && in.GetReplication().GetUserManaged() == nil) {
		googleerr.Write(w, googleerr.InvalidArgument("Secret.replication is required."))
		return
	}
	if gerr := validateSecret(in); gerr != nil {
		googleerr.Write(w, gerr)
		return
	}
	now := s.opts.Now()
	out := &secretmanagerpb.Secret{
		Name:           q.secretName(),
		Replication:    in.GetReplication(),
		CreateTime:     timestamppb.New(now),
		Labels:         in.GetLabels(),
		Annotations:    in.GetAnnotations(),
		Topics:         in.GetTopics(),
		Rotation:       in.GetRotation(),
		VersionAliases: in.GetVersionAliases(),
	}
	s.mu.Lock()
	if _, exists := s.secrets[q.key()]; exists {
		s.mu.Unlock()
		googleerr.Write(w, googleerr.AlreadyExists("Secret ["+q.secretName()+"] already exists."))
		return
	}
	sec := &secret{pb: out}
	sec.bumpEtag(now)
	s.secrets[q.key()] = sec
	snap := proto.Clone(sec.pb).(*secretmanagerpb.Secret)
	s.mu.Unlock()
	s.publish(r.Context(), snap, nil, "SECRET_CREATE")
	rest.WriteProto(w, snap)
}

// validateSecret checks labels, topics and rotation as Google does.
func validateSecret(in *secretmanagerpb.Secret) *googleerr.Error {
	if len(in.GetLabels()) > 64 {
		return googleerr.InvalidArgument("A secret can have at most 64 labels.")
	}
	for k, v := range in.GetLabels() {
		if !labelKeyRE.MatchString(k) || !labelValueRE.MatchString(v) {
			return googleerr.InvalidArgument("Invalid label [" + trunc(k) + "]: keys must start with a lowercase letter and keys and values may contain only lowercase letters, digits, underscores and dashes (at most 63 characters).")
		}
	}
	if len(in.GetTopics()) > 10 {
		return googleerr.InvalidArgument("A secret can have at most 10 topics.")
	}
	for _, t := range in.GetTopics() {
		if !topicRE.MatchString(t.GetName()) {
			return googleerr.InvalidArgument("Invalid topic name [" + trunc(t.GetName()) + "]: must be projects/PROJECT/topics/TOPIC.")
		}
	}
	if rot := in.GetRotation(); rot != nil {
		if len(in.GetTopics()) == 0 {
			return googleerr.InvalidArgument("A secret with a rotation schedule must have at least one topic.")
		}
		if p := rot.GetRotationPeriod(); p != nil && (p.AsDuration() < time.Hour || p.AsDuration() > 100*365*24*time.Hour) {
			return googleerr.InvalidArgument("Rotation period must be between 1 hour and 100 years.")
		}
		if rot.GetRotationPeriod() != nil && rot.GetNextRotationTime() == nil {
			return googleerr.InvalidArgument("Rotation.next_rotation_time is required when rotation_period is set.")
		}
	}
	return nil
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func (sec *secret) bumpEtag(now time.Time) { sec.pb.Etag = nextEtag(&sec.etagN, now) }

func (v *version) bumpEtag(now time.Time) { v.pb.Etag = nextEtag(&v.etagN, now) }

// nextEtag counts *n up and returns the etag it makes with now.
func nextEtag(n *int, now time.Time) string {
	*n++
	return fmt.Sprintf("%q", strconv.FormatInt(now.UnixMicro(), 10)+"."+strconv.Itoa(*n))
}

func (s *Server) getSecret(w http.ResponseWriter, r *http.Request) {
	q := rest.CallFrom[call](r)
	var snap proto.Message
	gerr := s.withSecret(q, func(sec *secret) *googleerr.Error {
		snap = proto.Clone(sec.pb)
		return nil
	})
	answer(w, snap, gerr)
}

func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request) {
	q := rest.CallFrom[call](r)
	if !q.known {
		googleerr.Write(w, googleerr.NotFound("Project ["+q.project+"] not found."))
		return
	}
	match, gerr := parseSecretFilter(r.URL.Query().Get("filter"))
	if gerr != nil {
		googleerr.Write(w, gerr)
		return
	}
	s.mu.Lock()
	var all []*secretmanagerpb.Secret
	for key, sec := range s.secrets {
		if strings.HasPrefix(key, q.proj.ID+"/") && match(sec.pb) {
			all = append(all, proto.Clone(sec.pb).(*secretmanagerpb.Secret))
		}
	}
	s.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].GetName() < all[j].GetName() })
	rest.WritePage(w, r, all, 25000, func(page []*secretmanagerpb.Secret, next string) proto.Message {
		return &secretmanagerpb.ListSecretsResponse{Secrets: page, NextPageToken: next, TotalSize: int32(len(all))}
	})
}

func (s *Server) updateSecret(w http.ResponseWriter, r *http.Request) {
	q := rest.CallFrom[call](r)
	in := &secretmanagerpb.Secret{}
	if !readBody(w, r, in) {
		return
	}
	mask := r.URL.Query().Get("updateMask")
	if mask == "" {
		googleerr.Write(w, googleerr.InvalidArgument("update_mask is required."))
		return
	}
	var snap *secretmanagerpb.Secret
	gerr := s.withSecret(q, func(sec *secret) *googleerr.Error {
		if in.GetEtag() != "" && in.GetEtag() != sec.pb.GetEtag() {
			return etagMismatch()
		}
		next := proto.Clone(sec.pb).(*secretmanagerpb.Secret)
		for _, field := range strings.Split(mask, ",") {
			switch strings.TrimSpace(field) {
			case "labels":
				next.Labels = in.GetLabels()
			case "annotations":
				next.Annotations = in.GetAnnotations()
			case "topics":
				next.Topics = in.GetTopics()
			case "rotation", "rotation.next_rotation_time", "rotation.rotation_period", "rotation.nextRotationTime", "rotation.rotationPeriod":
				next.Rotation = in.GetRotation()
			case "version_aliases", "versionAliases":
				next.VersionAliases = in.GetVersionAliases()
			default:
				return googleerr.InvalidArgument("The update_mask field [" + trunc(field) + "] is not supported.")
			}
		}
		if gerr := validateSecret(next); gerr != nil {
			return gerr
		}
		sec.pb = next
		sec.bumpEtag(s.opts.Now())
		snap = proto.Clone(sec.pb).(*secretmanagerpb.Secret)
		return nil
	})
	if gerr == nil {
		s.publish(r.Context(), snap, nil, "SECRET_UPDATE")
	}
	answer(w, snap, gerr)
}

func etagMismatch() *googleerr.Error {
	return googleerr.FailedPrecondition("The etag provided in the request does not match the current etag of the resource.")
}

func (s *Server) deleteSecret(w http.ResponseWriter, r *http.Request) {
	q := rest.CallFrom[call](r)
	var snap *secretmanagerpb.Secret
	gerr := s.withSecret(q, func(sec *secret) *googleerr.Error {
		if etag := r.URL.Query().Get("etag"); etag != "" && etag != sec.pb.GetEtag() {
			return etagMismatch()
		}
		delete(s.secrets, q.key())
		snap = proto.Clone(sec.pb).(*secretmanagerpb.Secret)
		return nil
	})
	if gerr == nil {
		s.publish(r.Context(), snap, nil, "SECRET_DELETE")
	}
	answer(w, &emptypb.Empty{}, gerr)
}

func (s *Server) addVersion(w http.ResponseWriter, r *http.Request) {
	q := rest.CallFrom[call](r)
	in := &secretmanagerpb.AddSecretVersionRequest{}
	if !readBody(w, r, in) {
		return
	}
	payload := in.GetPayload()
	if payload == nil {
		googleerr.Write(w, googleerr.InvalidArgument("Payload is required."))
		return
	}
	if len(payload.GetData()) > MaxPayloadBytes {
		googleerr.Write(w, googleerr.InvalidArgument("Secret payload data length must be less than or equal to 65536 bytes."))
		return
	}
	if sum := payload.DataCrc32C; sum != nil && (*sum < 0 || *sum > 0xFFFFFFFF || uint32(*sum) != crc32c(payload.GetData())) {
		googleerr.Write(w, googleerr.InvalidArgument("Checksum mismatch: the data_crc32c does not match the CRC32C of the payload data."))
		return
	}
	var secSnap *secretmanagerpb.Secret
	var snap *secretmanagerpb.SecretVersion
	gerr := s.withSecret(q, func(sec *secret) *googleerr.Error {
		now := s.opts.Now()
		n := len(sec.versions) + 1
		v := &version{
			pb: &secretmanagerpb.SecretVersion{
				Name:                           q.secretName() + "/versions/" + strconv.Itoa(n),
				CreateTime:                     timestamppb.New(now),
				State:                          secretmanagerpb.SecretVersion_ENABLED,
				ClientSpecifiedPayloadChecksum: payload.DataCrc32C != nil,
				ReplicationStatus: &secretmanagerpb.ReplicationStatus{ReplicationStatus: &secretmanagerpb.ReplicationStatus_Automatic{
					Automatic: &secretmanagerpb.ReplicationStatus_AutomaticStatus{},
				}},
			},
			data: append([]byte(nil), payload.GetData()...),
		}
		v.bumpEtag(now)
		sec.versions = append(sec.versions, v)
		secSnap = proto.Clone(sec.pb).(*secretmanagerpb.Secret)
		snap = proto.Clone(v.pb).(*secretmanagerpb.SecretVersion)
		return nil
	})
	if gerr == nil {
		s.publish(r.Context(), secSnap, snap, "SECRET_VERSION_ADD")
	}
	answer(w, snap, gerr)
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func crc32c(b []byte) uint32 { return crc32.Checksum(b, crcTable) }

func (s *Server) listVersions(w http.ResponseWriter, r *http.Request) {
	q := rest.CallFrom[call](r)
	want, gerr := parseStateFilter(r.URL.Query().Get("filter"))
	if gerr != nil {
		googleerr.Write(w, gerr)
		return
	}
	var all []*secretmanagerpb.SecretVersion
	gerr = s.withSecret(q, func(sec *secret) *googleerr.Error {
		for i := len(sec.versions) - 1; i >= 0; i-- { // newest first, as Google lists
			if v := sec.versions[i]; want == secretmanagerpb.SecretVersion_STATE_UNSPECIFIED || v.pb.GetState() == want {
				all = append(all, proto.Clone(v.pb).(*secretmanagerpb.SecretVersion))
			}
		}
		return nil
	})
	if gerr != nil {
		googleerr.Write(w, gerr)
		return
	}
	rest.WritePage(w, r, all, 25000, func(page []*secretmanagerpb.SecretVersion, next string) proto.Message {
		return &secretmanagerpb.ListSecretVersionsResponse{Versions: page, NextPageToken: next, TotalSize: int32(len(all))}
	})
}

func (s *Server) getVersion(w http.ResponseWriter, r *http.Request) {
	q := rest.CallFrom[call](r)
	var snap proto.Message
	gerr := s.withVersion(q, func(_ *secret, v *version) *googleerr.Error {
		snap = proto.Clone(v.pb)
		return nil
	})
	answer(w, snap, gerr)
}

func (s *Server) accessVersion(w http.ResponseWriter, r *http.Request) {
	q := rest.CallFrom[call](r)
	var resp *secretmanagerpb.AccessSecretVersionResponse
	gerr := s.withVersion(q, func(_ *secret, v *version) *googleerr.Error {
		if st := v.pb.GetState(); st != secretmanagerpb.SecretVersion_ENABLED {
			return googleerr.FailedPrecondition("Secret Version [" + v.pb.GetName() + "] is in " + st.String() + " state.")
		}
		sum := int64(crc32c(v.data))
		resp = &secretmanagerpb.AccessSecretVersionResponse{
			Name:    v.pb.GetName(),
			Payload: &secretmanagerpb.SecretPayload{Data: append([]byte(nil), v.data...), DataCrc32C: &sum},
		}
		return nil
	})
	answer(w, resp, gerr)
}

// setState enables, disables or destroys a version.
func (s *Server) setState(w http.ResponseWriter, r *http.Request, to secretmanagerpb.SecretVersion_State) {
	q := rest.CallFrom[call](r)
	verb := map[secretmanagerpb.SecretVersion_State]string{
		secretmanagerpb.SecretVersion_ENABLED:   "enable",
		secretmanagerpb.SecretVersion_DISABLED:  "disable",
		secretmanagerpb.SecretVersion_DESTROYED: "destroy",
	}[to]
	// Enable, disable and destroy requests share one body shape: {"etag": ...}.
	body := &secretmanagerpb.DisableSecretVersionRequest{}
	if !readBody(w, r, body) {
		return
	}
	var secSnap *secretmanagerpb.Secret
	var snap *secretmanagerpb.SecretVersion
	gerr := s.withVersion(q, func(sec *secret, v *version) *googleerr.Error {
		if body.GetEtag() != "" && body.GetEtag() != v.pb.GetEtag() {
			return etagMismatch()
		}
		if v.pb.GetState() == secretmanagerpb.SecretVersion_DESTROYED {
			return googleerr.FailedPrecondition("Secret Version [" + v.pb.GetName() + "] is in DESTROYED state.")
		}
		now := s.opts.Now()
		v.pb.State = to
		if to == secretmanagerpb.SecretVersion_DESTROYED {
			v.data = nil
			v.pb.DestroyTime = timestamppb.New(now)
		}
		v.bumpEtag(now)
		secSnap = proto.Clone(sec.pb).(*secretmanagerpb.Secret)
		snap = proto.Clone(v.pb).(*secretmanagerpb.SecretVersion)
		return nil
	})
	if gerr == nil {
		s.publish(r.Context(), secSnap, snap, "SECRET_VERSION_"+strings.ToUpper(verb))
	}
	answer(w, snap, gerr)
}

// Tick fires SECRET_ROTATE for every secret whose next rotation time has
// come, and moves it on by the rotation period (or clears it without one).
// The composition calls it every second; tests call it with their own time.
func (s *Server) Tick(ctx context.Context, now time.Time) {
	type due struct{ snap *secretmanagerpb.Secret }
	var fire []due
	s.mu.Lock()
	keys := make([]string, 0, len(s.secrets))
	for k := range s.secrets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sec := s.secrets[k]
		rot := sec.pb.GetRotation()
		if rot.GetNextRotationTime() == nil || rot.GetNextRotationTime().AsTime().After(now) {
			continue
		}
		snap := proto.Clone(sec.pb).(*secretmanagerpb.Secret)
		if p := rot.GetRotationPeriod(); p != nil && p.AsDuration() > 0 {
			next := rot.GetNextRotationTime().AsTime()
			for !next.After(now) {
				next = next.Add(p.AsDuration())
			}
			rot.NextRotationTime = timestamppb.New(next)
		} else {
			rot.NextRotationTime = nil
		}
		fire = append(fire, due{snap: snap})
	}
	s.mu.Unlock()
	for _, d := range fire {
		s.publish(ctx, d.snap, nil, "SECRET_ROTATE")
	}
}

// readBody decodes a protojson request body into m (empty bodies are empty messages), or
// answers Google's INVALID_ARGUMENT and returns false.
func readBody(w http.ResponseWriter, r *http.Request, m proto.Message) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		googleerr.Write(w, googleerr.InvalidArgument("Could not read the request body."))
		return false
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return true
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, m); err != nil {
		googleerr.Write(w, googleerr.InvalidArgument("Invalid JSON payload received."))
		return false
	}
	return true
}

// publish sends one event to each of the secret's topics.
func (s *Server) publish(ctx context.Context, sec *secretmanagerpb.Secret, v *secretmanagerpb.SecretVersion, eventType string) {
	if s.opts.Notifier == nil || len(sec.GetTopics()) == 0 {
		return
	}
	attrs := map[string]string{"eventType": eventType, "dataFormat": "JSON_API_V1", "secretId": sec.GetName()}
	var data []byte
	var err error
	if v != nil {
		attrs["versionId"] = v.GetName()
		data, err = protojson.Marshal(v)
	} else {
		data, err = protojson.Marshal(sec)
	}
	if err != nil {
		s.logf("secrets: marshal %s notification for %s: %v", eventType, sec.GetName(), err)
		return
	}
	for _, t := range sec.GetTopics() {
		dctx := context.WithValue(ctx, deliveryKey{}, delivery{topic: t.GetName(), n: Notification{Attributes: attrs, Data: data}})
		req, err := http.NewRequestWithContext(dctx, http.MethodPost, "http://secretmanager.notify/", nil)
		if err != nil {
			s.logf("secrets: %s notification for %s: %v", eventType, sec.GetName(), err)
			continue
		}
		rec := httptest.NewRecorder()
		s.notify.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			s.logf("secrets: %s notification for %s to %s not delivered: status %d", eventType, sec.GetName(), t.GetName(), rec.Code)
		}
	}
}

type deliveryKey struct{}

type delivery struct {
	topic string
	n     Notification
}

// deliver is the handler behind the "secretmanager.notify" fault point.
func (s *Server) deliver(w http.ResponseWriter, r *http.Request) {
	d, _ := r.Context().Value(deliveryKey{}).(delivery)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
	defer cancel()
	if err := s.opts.Notifier.Notify(ctx, d.topic, d.n); err != nil {
		s.logf("secrets: publish to %s: %v", d.topic, err)
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	w.WriteHeader(http.StatusOK)
}
