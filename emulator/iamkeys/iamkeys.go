// Package iamkeys is the fake IAM service-account keys API: the part of IAM v1 that
// google.golang.org/api/iam/v1 calls to create, list, get, delete, disable and enable a
// service account's keys.
//
// Vocabulary:
//   - a key is one of a service account's RSA key pairs (world.Key), named
//     "projects/P/serviceAccounts/EMAIL/keys/KEYID"; requests may name the account by
//     email or numeric unique id and its project as "-", the id or the number;
//   - create answers a USER_MANAGED key whose privateKeyData is the base64 of a
//     service_account key file (TYPE_GOOGLE_CREDENTIALS_FILE), the only private key type
//     served; an account has at most world.MaxKeysPerAccount keys and the next create is
//     Google's 400 FAILED_PRECONDITION "Precondition check failed.";
//   - IAM: each call needs iam.serviceAccountKeys.create|list|get|delete|disable|enable on
//     the service account ("projects/P/serviceAccounts/EMAIL"; bindings on the account or
//     its project apply), checked before the account is looked up, so a stranger cannot
//     probe for accounts (Google's 403 "Permission '...' denied on resource (or it may not
//     exist).");
//   - a deleted or disabled key stops minting at once: the token endpoint (emulator/identity)
//     answers its JWT-bearer assertions with invalid_grant "Invalid JWT Signature.".
//
// Endpoints are counted and fault-injectable as iam.serviceAccountKeys.create, .list, .get,
// .delete, .disable and .enable. Private keys never appear in logs or error messages.
package iamkeys

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/emulator/googleerr"
	"github.com/gcpconn/gcpconn/emulator/internal/rest"
	"github.com/gcpconn/gcpconn/emulator/world"
)

// Options configure a Server.
type Options struct {
	World  *world.World    // required; it dates new keys with its clock (World.SetClock)
	Auth   rest.Authorizer // required
	Faults rest.Wrapper    // optional
}

// Server is the fake IAM keys API (an http.Handler).
type Server struct {
	opts   Options
	routes map[string]http.Handler
}

// New builds a Server.
func New(opts Options) (*Server, error) {
	if opts.World == nil || opts.Auth == nil {
		return nil, errors.New("iamkeys: Options.World and Options.Auth are required")
	}
	s := &Server{opts: opts}
	s.routes = rest.Routes(opts.Faults, map[string]http.HandlerFunc{
		"iam.serviceAccountKeys.create":  s.create,
		"iam.serviceAccountKeys.list":    s.list,
		"iam.serviceAccountKeys.get":     s.get,
		"iam.serviceAccountKeys.delete":  s.delete,
		"iam.serviceAccountKeys.disable": func(w http.ResponseWriter, r *http.Request) { s.setDisabled(w, r, true) },
		"iam.serviceAccountKeys.enable":  func(w http.ResponseWriter, r *http.Request) { s.setDisabled(w, r, false) },
	})
	return s, nil
}

// Key is the IAM v1 ServiceAccountKey resource.
type Key struct {
	Name            string `json:"name"`
	PrivateKeyType  string `json:"privateKeyType,omitempty"`
	PrivateKeyData  string `json:"privateKeyData,omitempty"`
	ValidAfterTime  string `json:"validAfterTime"`
	ValidBeforeTime string `json:"validBeforeTime"`
	KeyAlgorithm    string `json:"keyAlgorithm"`
	KeyOrigin       string `json:"keyOrigin"`
	KeyType         string `json:"keyType"`
	Disabled        bool   `json:"disabled,omitempty"`
}

// call is a parsed request: the account as named in the path and the key id ("" for
// create and list).
type call struct {
	project, account, key string
}

// ServeHTTP routes the keys API:
//
//	POST   /v1/projects/P/serviceAccounts/SA/keys               create
//	GET    /v1/projects/P/serviceAccounts/SA/keys               list (keyTypes)
//	GET    /v1/projects/P/serviceAccounts/SA/keys/K             get
//	DELETE /v1/projects/P/serviceAccounts/SA/keys/K             delete
//	POST   /v1/projects/P/serviceAccounts/SA/keys/K:disable     disable (:enable enables)
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, verb, _ := strings.Cut(strings.Trim(r.URL.Path, "/"), ":")
	parts := strings.Split(path, "/")
	if len(parts) < 6 || len(parts) > 7 || parts[0] != "v1" || parts[1] != "projects" || parts[3] != "serviceAccounts" || parts[5] != "keys" {
		googleerr.Write(w, googleerr.NotFound("Requested entity was not found."))
		return
	}
	q := call{project: parts[2], account: parts[4]}
	if len(parts) == 7 {
		q.key = parts[6]
	}
	endpoint := ""
	switch {
	case q.key == "" && verb == "" && r.Method == http.MethodPost:
		endpoint = "iam.serviceAccountKeys.create"
	case q.key == "" && verb == "" && r.Method == http.MethodGet:
		endpoint = "iam.serviceAccountKeys.list"
	case q.key != "" && verb == "" && r.Method == http.MethodGet:
		endpoint = "iam.serviceAccountKeys.get"
	case q.key != "" && verb == "" && r.Method == http.MethodDelete:
		endpoint = "iam.serviceAccountKeys.delete"
	case q.key != "" && (verb == "disable" || verb == "enable") && r.Method == http.MethodPost:
		endpoint = "iam.serviceAccountKeys." + verb
	default:
		googleerr.Write(w, googleerr.NotFound("Requested entity was not found."))
		return
	}
	s.routes[endpoint].ServeHTTP(w, rest.WithCall(r, q))
}

// authorize checks permission on the account named by the request and returns the account.
// An account that does not exist is checked under the name the path gave, so the caller
// learns nothing it may not know.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, permission string) (world.ServiceAccount, bool) {
	q := rest.CallFrom[call](r)
	sa, found := s.opts.World.FindServiceAccount(q.account)
	resource := "projects/" + q.project + "/serviceAccounts/" + q.account
	if found {
		resource = "projects/" + sa.Project + "/serviceAccounts/" + sa.Email
	}
	if _, gerr := s.opts.Auth.Check(r, permission, resource); gerr != nil {
		googleerr.Write(w, gerr)
		return world.ServiceAccount{}, false
	}
	if !found {
		googleerr.Write(w, googleerr.NotFound("Service account "+resource+" does not exist."))
		return world.ServiceAccount{}, false
	}
	return sa, true
}

func (s *Server) resource(sa world.ServiceAccount, k world.Key) Key {
	return Key{
		Name:            "projects/" + sa.Project + "/serviceAccounts/" + sa.Email + "/keys/" + k.ID,
		ValidAfterTime:  k.Created.UTC().Format(time.RFC3339),
		ValidBeforeTime: "9999-12-31T23:59:59Z",
		KeyAlgorithm:    "KEY_ALG_RSA_2048",
		KeyOrigin:       "GOOGLE_PROVIDED",
		KeyType:         "USER_MANAGED",
		Disabled:        k.Disabled,
	}
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	sa, ok := s.authorize(w, r, "iam.serviceAccountKeys.create")
	if !ok {
		return
	}
	var req struct {
		PrivateKeyType string `json:"privateKeyType"`
		KeyAlgorithm   string `json:"keyAlgorithm"`
	}
	if err := readJSON(r, &req); err != nil {
		googleerr.Write(w, googleerr.InvalidArgument("Invalid JSON payload received."))
		return
	}
	if t := req.PrivateKeyType; t != "" && t != "TYPE_UNSPECIFIED" && t != "TYPE_GOOGLE_CREDENTIALS_FILE" {
		googleerr.Write(w, googleerr.InvalidArgument("Private key type "+clip(t)+" is not supported (the fake serves TYPE_GOOGLE_CREDENTIALS_FILE)."))
		return
	}
	if a := req.KeyAlgorithm; a != "" && a != "KEY_ALG_UNSPECIFIED" && a != "KEY_ALG_RSA_2048" {
		googleerr.Write(w, googleerr.InvalidArgument("Key algorithm "+clip(a)+" is not supported (the fake serves KEY_ALG_RSA_2048)."))
		return
	}
	k, err := s.opts.World.CreateKey(sa.Email)
	if errors.Is(err, world.ErrKeyLimit) {
		googleerr.Write(w, googleerr.FailedPrecondition("Precondition check failed."))
		return
	}
	if err != nil {
		googleerr.Write(w, googleerr.Internal("Internal error encountered."))
		return
	}
	file, err := s.opts.World.KeyFileJSON(sa.Email, k)
	if err != nil {
		googleerr.Write(w, googleerr.Internal("Internal error encountered."))
		return
	}
	out := s.resource(sa, *k)
	out.PrivateKeyType = "TYPE_GOOGLE_CREDENTIALS_FILE"
	out.PrivateKeyData = base64.StdEncoding.EncodeToString(file)
	rest.WriteJSON(w, http.StatusOK, out)
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	sa, ok := s.authorize(w, r, "iam.serviceAccountKeys.list")
	if !ok {
		return
	}
	userManaged := true
	for _, t := range r.URL.Query()["keyTypes"] {
		switch t {
		case "USER_MANAGED", "KEY_TYPE_UNSPECIFIED":
		case "SYSTEM_MANAGED":
			userManaged = len(r.URL.Query()["keyTypes"]) > 1
		default:
			googleerr.Write(w, googleerr.InvalidArgument("Invalid value at 'key_types': "+clip(t)))
			return
		}
	}
	keys, err := s.opts.World.Keys(sa.Email)
	if err != nil {
		googleerr.Write(w, googleerr.Internal("Internal error encountered."))
		return
	}
	out := []Key{}
	for _, k := range keys {
		if userManaged {
			out = append(out, s.resource(sa, k))
		}
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"keys": out})
}

// key looks up the request's key after the permission check.
func (s *Server) key(w http.ResponseWriter, r *http.Request, permission string) (world.ServiceAccount, world.Key, bool) {
	sa, ok := s.authorize(w, r, permission)
	if !ok {
		return sa, world.Key{}, false
	}
	q := rest.CallFrom[call](r)
	k, ok := s.opts.World.FindKey(sa.Email, q.key)
	if !ok {
		googleerr.Write(w, googleerr.NotFound(fmt.Sprintf("Service account key projects/%s/serviceAccounts/%s/keys/%s does not exist.", sa.Project, sa.Email, clip(q.key))))
		return sa, world.Key{}, false
	}
	return sa, k, true
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	sa, k, ok := s.key(w, r, "iam.serviceAccountKeys.get")
	if ok {
		rest.WriteJSON(w, http.StatusOK, s.resource(sa, k))
	}
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request) {
	sa, k, ok := s.key(w, r, "iam.serviceAccountKeys.delete")
	if !ok {
		return
	}
	s.opts.World.DeleteKey(sa.Email, k.ID)
	rest.WriteJSON(w, http.StatusOK, map[string]any{})
}

func (s *Server) setDisabled(w http.ResponseWriter, r *http.Request, disabled bool) {
	perm := "iam.serviceAccountKeys.enable"
	if disabled {
		perm = "iam.serviceAccountKeys.disable"
	}
	sa, k, ok := s.key(w, r, perm)
	if !ok {
		return
	}
	s.opts.World.SetKeyDisabled(sa.Email, k.ID, disabled)
	rest.WriteJSON(w, http.StatusOK, map[string]any{})
}

// readJSON decodes a bounded JSON body; an empty body leaves v unchanged.
func readJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(b)) == "" {
		return nil
	}
	return json.Unmarshal(b, v)
}

// clip shortens untrusted text echoed in an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
