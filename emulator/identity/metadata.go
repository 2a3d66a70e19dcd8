package identity

import (
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/emulator/tokens"
	"github.com/gcpconn/gcpconn/emulator/world"
)

// metaToken is a cached metadata-server access token. Like the real server, the fake
// hands out the same token until it is within metaRefreshBefore of expiry.
type metaToken struct {
	value  string
	expiry time.Time
}

const (
	metaRefreshBefore = 5 * time.Minute
	metaRegion        = "us-central1"
)

// metadataHandler serves the GCE/Cloud Run metadata server under /computeMetadata/v1/.
// Every request needs "Metadata-Flavor: Google"; identity is the world's runtime
// service account.
func (s *Service) metadataHandler() http.Handler {
	f := s.cfg.Faults
	token := f.WrapFunc("metadata.token", s.metadataToken)
	identity := f.WrapFunc("metadata.identity", s.metadataIdentity)
	get := f.WrapFunc("metadata.get", s.metadataGet)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Metadata-Flavor", "Google")
		w.Header().Set("Server", "Metadata Server for VM")
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "Missing required header \"Metadata-Flavor\": \"Google\"", http.StatusForbidden)
			return
		}
		if r.Header.Get("X-Forwarded-For") != "" {
			http.Error(w, "Request had an X-Forwarded-For header and was rejected.", http.StatusForbidden)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "Method not allowed", http.StatusMethodNotAllowed)
			return
		}
		path := strings.TrimPrefix(r.URL.Path, "/computeMetadata/v1/")
		switch {
		case strings.HasPrefix(path, "instance/service-accounts/") && strings.HasSuffix(path, "/token"):
			token.ServeHTTP(w, r)
		case strings.HasPrefix(path, "instance/service-accounts/") && strings.HasSuffix(path, "/identity"):
			identity.ServeHTTP(w, r)
		default:
			get.ServeHTTP(w, r)
		}
	})
}

// handleMetadataRoot answers GET / as the metadata server does ("computeMetadata/").
func (s *Service) handleMetadataRoot(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Metadata-Flavor", "Google")
	w.Header().Set("Content-Type", "application/text")
	_, _ = io.WriteString(w, "computeMetadata/\n")
}

// runtimeAccount resolves the account path element ("default" or the email) to the
// runtime service account.
func (s *Service) runtimeAccount(name string) (world.ServiceAccount, bool) {
	email := s.cfg.World.RuntimeServiceAccount
	if email == "" || (name != "default" && !strings.EqualFold(name, email)) {
		return world.ServiceAccount{}, false
	}
	return s.cfg.World.FindServiceAccount(email)
}

// accountFromPath extracts ACCOUNT from instance/service-accounts/ACCOUNT/...
func accountFromPath(r *http.Request) string {
	rest := strings.TrimPrefix(r.URL.Path, "/computeMetadata/v1/instance/service-accounts/")
	name, _, _ := strings.Cut(rest, "/")
	return name
}

func (s *Service) metadataToken(w http.ResponseWriter, r *http.Request) {
	sa, ok := s.runtimeAccount(accountFromPath(r))
	if !ok {
		http.NotFound(w, r)
		return
	}
	scopes := splitScopes(r.URL.Query().Get("scopes"))
	if len(scopes) == 0 {
		scopes = []string{CloudPlatform, UserinfoEmail}
	}
	key := sa.Email + "|" + strings.Join(scopes, " ")
	now := s.now()
	s.metaMu.Lock()
	mt, ok := s.metaCache[key]
	if !ok || mt.expiry.Sub(now) < metaRefreshBefore {
		mt = metaToken{expiry: now.Add(tokenLifetime)}
		mt.value = s.cfg.Tokens.Issue(tokens.Token{
			Member: "serviceAccount:" + sa.Email, Email: sa.Email, Scopes: scopes,
			Expiry: mt.expiry, IssuedBy: "metadata.token",
		})
		s.metaCache[key] = mt
	}
	s.metaMu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": mt.value,
		"expires_in":   int64(mt.expiry.Sub(now) / time.Second),
		"token_type":   "Bearer",
	})
}

func (s *Service) metadataIdentity(w http.ResponseWriter, r *http.Request) {
	sa, ok := s.runtimeAccount(accountFromPath(r))
	if !ok {
		http.NotFound(w, r)
		return
	}
	aud := r.URL.Query().Get("audience")
	if aud == "" {
		http.Error(w, "non-empty audience parameter required", http.StatusBadRequest)
		return
	}
	// format=full adds nothing the fake models; the email is always included, as with
	// format=full on Cloud Run.
	tok, err := s.signIssuer(s.idClaims(sa.Email, aud, true, ""))
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, tok)
}

func (s *Service) metadataGet(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/computeMetadata/v1/"), "/")
	recursive := r.URL.Query().Get("recursive") == "true"
	rt, hasRuntime := s.cfg.World.FindServiceAccount(s.cfg.World.RuntimeServiceAccount)
	var proj world.Project
	if hasRuntime {
		proj, _ = s.cfg.World.FindProject(rt.Project)
	}
	text := func(v string) {
		w.Header().Set("Content-Type", "application/text")
		_, _ = io.WriteString(w, v)
	}
	switch path {
	case "universe/universe-domain":
		text("googleapis.com")
		return
	case "instance/region":
		if hasRuntime {
			text("projects/" + strconv.FormatInt(proj.Number, 10) + "/regions/" + metaRegion)
			return
		}
	case "instance/zone":
		if hasRuntime {
			text("projects/" + strconv.FormatInt(proj.Number, 10) + "/zones/" + metaRegion + "-1")
			return
		}
	case "instance/id":
		text("0076b4d2fa1fe1c43a3a6d9b26c3c1a6f1d2f6e5c0ad9a00fakegcp")
		return
	case "project/project-id":
		if hasRuntime {
			text(proj.ID)
			return
		}
	case "project/numeric-project-id":
		if hasRuntime {
			text(strconv.FormatInt(proj.Number, 10))
			return
		}
	case "instance/service-accounts":
		if hasRuntime {
			text("default/\n" + rt.Email + "/\n")
			return
		}
	}
	if rest, ok := strings.CutPrefix(path, "instance/service-accounts/"); ok {
		name, field, _ := strings.Cut(rest, "/")
		sa, ok := s.runtimeAccount(name)
		if !ok {
			http.NotFound(w, r)
			return
		}
		scopes := []string{CloudPlatform, UserinfoEmail}
		switch field {
		case "email":
			text(sa.Email)
			return
		case "scopes":
			text(strings.Join(scopes, "\n") + "\n")
			return
		case "aliases":
			text("default\n")
			return
		case "":
			if recursive {
				writeJSON(w, http.StatusOK, map[string]any{"aliases": []string{"default"}, "email": sa.Email, "scopes": scopes})
				return
			}
			fields := []string{"aliases", "email", "identity", "scopes", "token"}
			sort.Strings(fields)
			text(strings.Join(fields, "\n") + "\n")
			return
		}
	}
	http.NotFound(w, r)
}
