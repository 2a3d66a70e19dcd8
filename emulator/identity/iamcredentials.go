package identity

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/emulator/googleerr"
	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/emulator/world"
)

const (
	maxLifetime         = time.Hour
	maxExtendedLifetime = 12 * time.Hour
	maxSignedJWTLife    = 12 * time.Hour
	maxDelegates        = 10
)

// verbPermissions maps each IAM Credentials method to the permission it needs on the
// target service account.
var verbPermissions = map[string]string{
	"generateAccessToken": "iam.serviceAccounts.getAccessToken",
	"generateIdToken":     "iam.serviceAccounts.getOpenIdToken",
	"signJwt":             "iam.serviceAccounts.signJwt",
	"signBlob":            "iam.serviceAccounts.signBlob",
}

// iamCredentialsRequest is the union of the request bodies (protojson, camelCase).
type iamCredentialsRequest struct {
	Delegates    []string `json:"delegates"`
	Scope        []string `json:"scope"`
	Lifetime     string   `json:"lifetime"`
	Audience     string   `json:"audience"`
	IncludeEmail bool     `json:"includeEmail"`
	Payload      string   `json:"payload"`
}

// iamCredentialsHandler serves POST BASE/v1/projects/-/serviceAccounts/EMAIL:VERB.
func (s *Service) iamCredentialsHandler() http.Handler {
	handlers := map[string]http.Handler{}
	for verb := range verbPermissions {
		handlers[verb] = s.cfg.Faults.Wrap("iamcredentials."+verb, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.iamCredentials(w, r, verb)
		}))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nameVerb := r.PathValue("nameVerb")
		i := strings.LastIndex(nameVerb, ":")
		if i < 0 {
			googleerr.Write(w, googleerr.NotFound("Method not found."))
			return
		}
		h, ok := handlers[nameVerb[i+1:]]
		if !ok {
			googleerr.Write(w, googleerr.NotFound("Method not found."))
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Service) iamCredentials(w http.ResponseWriter, r *http.Request, verb string) {
	nameVerb := r.PathValue("nameVerb")
	email := strings.ToLower(nameVerb[:strings.LastIndex(nameVerb, ":")])
	caller, gerr := s.cfg.Guard.Token(r)
	if gerr != nil {
		googleerr.Write(w, gerr)
		return
	}
	var req iamCredentialsRequest
	if !readRequest(w, r, &req) {
		return
	}
	target, gerr := s.authorizeChain(r, caller, req.Delegates, email, verbPermissions[verb])
	if gerr != nil {
		googleerr.Write(w, gerr)
		return
	}
	switch verb {
	case "generateAccessToken":
		s.generateAccessToken(w, target, req)
	case "generateIdToken":
		s.generateIDToken(w, target, req)
	case "signJwt":
		s.signJwt(w, target, req)
	case "signBlob":
		s.signBlob(w, target, req)
	}
}

// authorizeChain checks the delegation chain caller -> delegates... -> target: each hop
// needs iam.serviceAccounts.getAccessToken on the next account, the last one permission
// on the target. It returns the target account.
func (s *Service) authorizeChain(r *http.Request, caller tokens.Token, delegates []string, email, permission string) (world.ServiceAccount, *googleerr.Error) {
	if len(delegates) > maxDelegates {
		return world.ServiceAccount{}, googleerr.InvalidArgument("Too many delegates: at most " + strconv.Itoa(maxDelegates) + " are allowed.")
	}
	hops := make([]string, 0, len(delegates)+1)
	for _, d := range delegates {
		d = strings.ToLower(d)
		if i := strings.LastIndex(d, "/"); i >= 0 {
			d = d[i+1:] // projects/-/serviceAccounts/EMAIL
		}
		hops = append(hops, d)
	}
	hops = append(hops, email)
	actor := caller
	var target world.ServiceAccount
	for i, hop := range hops {
		sa, ok := s.cfg.World.FindServiceAccount(hop)
		if !ok {
			return target, googleerr.NotFound("Not found; Gaia id not found for email " + clip(hop))
		}
		perm := permission
		if i < len(hops)-1 {
			perm = "iam.serviceAccounts.getAccessToken"
		}
		resource := "projects/" + sa.Project + "/serviceAccounts/" + sa.Email
		if gerr := s.cfg.Guard.Authorize(r, actor, perm, resource); gerr != nil {
			return target, gerr
		}
		if sa.Disabled {
			return target, googleerr.FailedPrecondition("The service account " + sa.Email + " is disabled.")
		}
		actor = tokens.Token{Member: "serviceAccount:" + sa.Email, Email: sa.Email, Scopes: []string{CloudPlatform}, Expiry: caller.Expiry}
		target = sa
	}
	return target, nil
}

// parseDuration parses a protobuf JSON Duration ("3600s", "0.5s").
func parseDuration(s string) (time.Duration, bool) {
	v, ok := strings.CutSuffix(s, "s")
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 315576000000 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

func (s *Service) generateAccessToken(w http.ResponseWriter, sa world.ServiceAccount, req iamCredentialsRequest) {
	if len(req.Scope) == 0 {
		googleerr.Write(w, googleerr.InvalidArgument("Scope required."))
		return
	}
	lifetime := maxLifetime
	if req.Lifetime != "" {
		d, ok := parseDuration(req.Lifetime)
		if !ok {
			googleerr.Write(w, googleerr.InvalidArgument("Invalid value at 'lifetime' (type.googleapis.com/google.protobuf.Duration), Field 'lifetime', Illegal duration format."))
			return
		}
		lifetime = d
	}
	max := maxLifetime
	if sa.ExtendedLifetime {
		max = maxExtendedLifetime
	}
	if lifetime < time.Second || lifetime > max {
		googleerr.Write(w, googleerr.InvalidArgument("The lifetime "+req.Lifetime+" is not valid: it must be between 1s and "+strconv.Itoa(int(max/time.Second))+"s."))
		return
	}
	expiry := s.now().Add(lifetime).UTC().Truncate(time.Second)
	value := s.cfg.Tokens.Issue(tokens.Token{
		Member: "serviceAccount:" + sa.Email, Email: sa.Email, Scopes: append([]string(nil), req.Scope...),
		Expiry: expiry, IssuedBy: "iamcredentials.generateAccessToken",
	})
	writeJSON(w, http.StatusOK, map[string]string{"accessToken": value, "expireTime": expiry.Format(time.RFC3339)})
}

func (s *Service) generateIDToken(w http.ResponseWriter, sa world.ServiceAccount, req iamCredentialsRequest) {
	if req.Audience == "" {
		googleerr.Write(w, googleerr.InvalidArgument("Audience required."))
		return
	}
	tok, err := s.signIssuer(s.idClaims(sa.Email, req.Audience, req.IncludeEmail, ""))
	if err != nil {
		googleerr.Write(w, googleerr.Internal("Internal error encountered."))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": tok})
}

func (s *Service) signJwt(w http.ResponseWriter, sa world.ServiceAccount, req iamCredentialsRequest) {
	var claims map[string]any
	if err := json.Unmarshal([]byte(req.Payload), &claims); err != nil || claims == nil {
		googleerr.Write(w, googleerr.InvalidArgument("Invalid JWT payload: it must be a JSON object."))
		return
	}
	now := s.now()
	switch exp := claims["exp"].(type) {
	case nil:
		claims["exp"] = now.Add(time.Hour).Unix()
	case float64:
		t := time.Unix(int64(exp), 0)
		if !t.After(now) || t.After(now.Add(maxSignedJWTLife)) {
			googleerr.Write(w, googleerr.InvalidArgument("The exp claim must be in the future and no more than 12 hours away."))
			return
		}
	default:
		googleerr.Write(w, googleerr.InvalidArgument("The exp claim must be an integer timestamp."))
		return
	}
	s.signWithKey(w, sa, "signedJwt", func(key *world.Key) (string, error) {
		return signJWT(key.Private, key.ID, claims)
	})
}

func (s *Service) signBlob(w http.ResponseWriter, sa world.ServiceAccount, req iamCredentialsRequest) {
	payload, err := base64.StdEncoding.DecodeString(req.Payload)
	if err != nil {
		googleerr.Write(w, googleerr.InvalidArgument("Invalid value at 'payload' (TYPE_BYTES), Base64 decoding failed."))
		return
	}
	s.signWithKey(w, sa, "signedBlob", func(key *world.Key) (string, error) {
		sig, err := signRS256(key.Private, payload)
		return base64.StdEncoding.EncodeToString(sig), err
	})
}

// signWithKey signs with the account's key and answers {"keyId", field: the signature}.
func (s *Service) signWithKey(w http.ResponseWriter, sa world.ServiceAccount, field string, sign func(*world.Key) (string, error)) {
	key, err := s.cfg.World.Key(sa.Email)
	if err != nil {
		googleerr.Write(w, googleerr.Internal("Internal error encountered."))
		return
	}
	signed, err := sign(key)
	if err != nil {
		googleerr.Write(w, googleerr.Internal("Internal error encountered."))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"keyId": key.ID, field: signed})
}
