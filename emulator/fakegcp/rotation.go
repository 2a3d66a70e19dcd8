package fakegcp

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/emulator/googleerr"
	"github.com/gcpconn/gcpconn/emulator/iamkeys"
	"github.com/gcpconn/gcpconn/emulator/secrets"
)

// startIAMKeys serves the IAM service-account keys API (GCPCONN_ENDPOINT_IAM) on its own
// loopback listener.
func (s *Server) startIAMKeys() error {
	keys, err := iamkeys.New(iamkeys.Options{World: s.world, Auth: s.guard, Faults: s.faults})
	if err != nil {
		return err
	}
	return s.serveAPI("iam", "GCPCONN_ENDPOINT_IAM", keys)
}

// TickSecrets fires SECRET_ROTATE for every secret whose next rotation time is not after
// now (the fake's clock when now is zero) and moves its schedule on, before it returns:
// tests drive rotation schedules with it instead of waiting for the once-a-second ticker.
func (s *Server) TickSecrets(ctx context.Context, now time.Time) {
	if now.IsZero() {
		now = s.opts.Now()
	}
	s.mu.Lock()
	sm := s.secretManager
	s.mu.Unlock()
	if sm != nil {
		sm.Tick(ctx, now)
	}
}

// setSecretManager records the Secret Manager fake for TickSecrets.
func (s *Server) setSecretManager(sm *secrets.Server) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secretManager = sm
}

// handleAdminSecretsTick is POST /admin/secrets/tick {"now"?: RFC 3339, "advance"?: Go
// duration}: TickSecrets at that time (default the fake's clock, plus advance: "25h" fires
// every schedule due within the next 25 hours). Only the schedules see that time; the
// fake's clock goes on. It answers {"now"} once the notifications are out.
func (s *Server) handleAdminSecretsTick(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Now     string `json:"now"`
		Advance string `json:"advance"`
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err == nil && strings.TrimSpace(string(b)) != "" {
		err = json.Unmarshal(b, &req)
	}
	if err != nil {
		googleerr.Write(w, googleerr.InvalidArgument("invalid JSON body: want {\"now\": RFC 3339 time} or nothing"))
		return
	}
	now := s.opts.Now()
	if req.Now != "" {
		if now, err = time.Parse(time.RFC3339, req.Now); err != nil {
			googleerr.Write(w, googleerr.InvalidArgument("now: want an RFC 3339 time such as 2026-01-02T15:04:05Z"))
			return
		}
	}
	if req.Advance != "" {
		d, err := time.ParseDuration(req.Advance)
		if err != nil || d < 0 {
			googleerr.Write(w, googleerr.InvalidArgument("advance: want a non-negative Go duration such as \"25h\""))
			return
		}
		now = now.Add(d)
	}
	s.TickSecrets(r.Context(), now)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"now": now.UTC().Format(time.RFC3339)})
}
