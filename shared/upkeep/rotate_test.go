package upkeep_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/credjson/credjsontest"
	"github.com/gcpconn/gcpconn/shared/resourceid"
	"github.com/gcpconn/gcpconn/shared/rotation"
	"github.com/gcpconn/gcpconn/shared/store"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// rsKeys stands in for Google's IAM keys API: keys are numbered, a new key is refused by the
// token endpoint (rsGoogle) until refuseFor has passed since its creation, as real Google's
// new keys can take seconds to work.
type rsKeys struct {
	mu        sync.Mutex
	n         int
	live      map[string]time.Time
	refuseFor time.Duration
}

func (k *rsKeys) CreateKey(ctx context.Context, g connector.Grant, email string) (string, string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.live) >= upkeep.MaxKeysPerAccount {
		return "", "", connector.Errorf(connector.ErrFailedPrecondition, "Precondition check failed.")
	}
	k.n++
	id := fmt.Sprintf("k%d", k.n)
	k.live[id] = time.Now()
	return id, credjsontest.JSON(credjsontest.ServiceAccountKey(map[string]any{"private_key_id": id, "client_email": email})), nil
}

func (k *rsKeys) ListKeys(ctx context.Context, g connector.Grant, email string) ([]upkeep.KeyInfo, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []upkeep.KeyInfo
	for id, t := range k.live {
		out = append(out, upkeep.KeyInfo{ID: id, Created: t})
	}
	return out, nil
}

func (k *rsKeys) DeleteKey(ctx context.Context, g connector.Grant, email, id string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.live, id)
	return nil
}

// usable reports whether Google accepts the key of g yet.
func (k *rsKeys) usable(g connector.Grant) error {
	key, err := g.Secrets.ServiceAccountKey()
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	created, ok := k.live[key.PrivateKeyID]
	if !ok || time.Since(created) < k.refuseFor {
		return &connector.Error{Kind: connector.ErrUpstreamDenied, Message: "invalid_grant: Invalid JWT Signature."}
	}
	return nil
}

func rsService(t *testing.T, keys *rsKeys) (*upkeep.Keeper, string) {
	t.Helper()
	g := &swGoogle{TokenFunc: func(ctx context.Context, gr connector.Grant) (connector.Token, error) {
		if err := keys.usable(gr); err != nil {
			return connector.Token{}, err
		}
		return connector.Token{Value: "ya29.x", Expiry: time.Now().Add(time.Hour)}, nil
	}}
	keys.live["k0"] = time.Now().Add(-100 * time.Hour)
	s := upkeep.New(&connector.Service{Store: store.NewMemory(), Secrets: store.NewMemorySecrets(), Google: g}, keys)
	c, _, err := s.Register(context.Background(), connector.Principal{Email: swOwner}, connector.RegisterRequest{
		Name: "rot", AuthMethod: configschema.ServiceAccount, ResourceType: resourceid.GCPGeneric,
		Configuration:  map[string]any{"project_id": "demo-project", "service_account_json": credjsontest.ServiceAccountKey(map[string]any{"private_key_id": "k0"})},
		RotationPeriod: 24 * time.Hour,
	})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	return s, c.ID
}

// TestRotateKeyWaitsForNewKey: a new key that Google refuses for its first seconds is tried
// again with backoff on the (synctest) clock and pinned once it works.
func TestRotateKeyWaitsForNewKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		keys := &rsKeys{live: map[string]time.Time{}, refuseFor: 5 * time.Second}
		s, id := rsService(t, keys)
		start := time.Now()
		ok, err := s.RotateKey(context.Background(), id, true)
		if !ok || err != nil {
			t.Fatalf("RotateKey = %v, %v; want the new key pinned after it became usable", ok, err)
		}
		if waited := time.Since(start); waited < 5*time.Second || waited > 8*time.Second {
			t.Errorf("waited %v for the new key; want the backoff to stop soon after 5s", waited)
		}
		c, _ := s.Store.Get(context.Background(), id)
		if c.Rotation.KeyID != "k1" || c.Rotation.Pending != nil {
			t.Errorf("rotation = %+v; want k1 pinned", c.Rotation)
		}
	})
}

// TestRotateKeyVerificationFails: a new key that does not work within the first pass stays
// "verifying" (the old pin stays and mints meanwhile, nothing is deleted); a later pass that
// finds it working pins it; one that still fails after VerifyWindow deletes it, keeps the old
// pin and records why in rotation.last_error and the status. A key is never pinned unverified.
func TestRotateKeyVerificationFails(t *testing.T) {
	for _, works := range []bool{true, false} {
		t.Run(fmt.Sprintf("works later %v", works), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				keys := &rsKeys{live: map[string]time.Time{}, refuseFor: 10 * time.Hour}
				if works {
					keys.refuseFor = 10 * time.Minute
				}
				s, id := rsService(t, keys)
				ctx := context.Background()
				before, _ := s.Store.Get(ctx, id)
				ok, err := s.RotateKey(ctx, id, true)
				c, _ := s.Store.Get(ctx, id)
				if ok || err != nil || c.Rotation.Pending == nil || c.Rotation.Pending.State() != rotation.Verifying || c.SecretVersion != before.SecretVersion {
					t.Fatalf("RotateKey = %v, %v, rotation %+v; want the new key left verifying, the old one pinned", ok, err, c.Rotation)
				}
				if _, live := keys.live["k1"]; !live {
					t.Fatal("the new key was deleted while it may still start to work")
				}
				time.Sleep(15 * time.Minute)
				n, err := s.RepairRotation(ctx, c)
				c, _ = s.Store.Get(ctx, id)
				if works {
					if err != nil || c.Rotation.KeyID != "k1" || c.Rotation.Pending != nil || c.Rotation.LastError != "" {
						t.Errorf("a later pass, the key working: RepairRotation = %d, %v, rotation %+v; want k1 verified and pinned", n, err, c.Rotation)
					}
					return
				}
				if err != nil || c.Rotation.KeyID != "k0" || c.Rotation.Pending == nil {
					t.Fatalf("a later pass inside VerifyWindow, the key still refused: %v, rotation %+v; want it still verifying", err, c.Rotation)
				}
				time.Sleep(upkeep.VerifyWindow)
				ok, err = s.RotateKey(ctx, id, false)
				c, _ = s.Store.Get(ctx, id)
				if ok || connector.KindOf(err) != connector.ErrFailedPrecondition || !strings.Contains(err.Error(), "failed verification") {
					t.Errorf("RotateKey after VerifyWindow = %v, %v; want a failed-precondition error saying verification failed", ok, err)
				}
				if c.SecretVersion != before.SecretVersion || c.Rotation.KeyID != "k0" || c.Rotation.Pending != nil ||
					!strings.Contains(c.Status.Error, "key rotation failed") || !strings.Contains(c.Rotation.LastError, "Invalid JWT Signature") {
					t.Errorf("after a failed rotation: pinned %s, rotation %+v, status %q; want the old pin and the reason", c.SecretVersion, c.Rotation, c.Status.Error)
				}
				if _, live := keys.live["k1"]; live {
					t.Errorf("the new key k1 is still live; want it deleted")
				}
			})
		})
	}
}

// TestRotateKeyLimit: an account with its 10 keys gets a clear message and no key is deleted.
func TestRotateKeyLimit(t *testing.T) {
	keys := &rsKeys{live: map[string]time.Time{}}
	s, id := rsService(t, keys)
	for i := range 9 {
		keys.live[fmt.Sprintf("other%d", i)] = time.Now().Add(-time.Hour)
	}
	_, err := s.RotateKey(context.Background(), id, true)
	if connector.KindOf(err) != connector.ErrFailedPrecondition || !strings.Contains(err.Error(), "at most 10 keys") {
		t.Errorf("RotateKey at the limit = %v; want a message about the 10-key limit", err)
	}
	if len(keys.live) != 10 {
		t.Errorf("%d keys live; want the 10 kept", len(keys.live))
	}
}

// TestRotationPeriodField: a rotation period is refused, naming the field, for connectors
// that hold no service-account key (the period's own bounds: shared/rotation's
// TestParsePeriod, and functions/httpapi's TestRotationPeriodWire at the edge).
func TestRotationPeriodField(t *testing.T) {
	keys := &rsKeys{live: map[string]time.Time{}}
	s, _ := rsService(t, keys)
	_, _, err := s.Register(context.Background(), connector.Principal{Email: swOwner}, connector.RegisterRequest{
		Name: "user", AuthMethod: configschema.UserAccount, ResourceType: resourceid.GCPGeneric,
		Configuration:  map[string]any{"project_id": "demo-project", "user_account_json": credjsontest.AuthorizedUser(nil)},
		RotationPeriod: 24 * time.Hour, Verify: new(bool),
	})
	var ce *connector.Error
	if !errors.As(err, &ce) || ce.Field != "rotation_period" || !strings.Contains(ce.Message, "user-account refresh tokens cannot be rotated") {
		t.Errorf("Register user-account with rotation_period = %v; want a field error naming rotation_period", err)
	}
}

// TestRepairFromStaleListing: sweep listed the connector while a rotation was verifying and
// past RotationBudget; the rotation then pinned its key. Repairing from that stale listing
// re-reads the connector and deletes nothing: the pinned key stays live and mints.
func TestRepairFromStaleListing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		keys := &rsKeys{live: map[string]time.Time{}, refuseFor: 10 * time.Minute}
		s, id := rsService(t, keys)
		ctx := context.Background()
		if ok, err := s.RotateKey(ctx, id, true); ok || err != nil {
			t.Fatalf("RotateKey = %v, %v; want the new key left verifying", ok, err)
		}
		time.Sleep(upkeep.RotationBudget + 10*time.Minute)
		stale, _ := s.Store.Get(ctx, id) // sweep's listing: an old entry, its version not pinned
		if ok, err := s.RotateKey(ctx, id, false); !ok || err != nil {
			t.Fatalf("RotateKey resuming the verifying entry = %v, %v; want k1 pinned", ok, err)
		}
		if n, err := s.RepairRotation(ctx, stale); n != 0 || err != nil {
			t.Errorf("RepairRotation from the stale listing = %d, %v; want nothing deleted", n, err)
		}
		c, _ := s.Store.Get(ctx, id)
		if _, live := keys.live["k1"]; !live || c.Rotation.KeyID != "k1" {
			t.Fatalf("after the repair: k1 live %v, pinned %q; want the pinned key k1 kept", live, c.Rotation.KeyID)
		}
		if _, err := s.Mint(ctx, connector.Principal{Email: swOwner}, connector.MintRequest{Ref: "rot", ResourceType: resourceid.GCPGeneric}); err != nil {
			t.Errorf("mint after the repair = %v", err)
		}
	})
}

// TestPinRefusesReleasedEntry: a rotation whose verifying entry a sweep released (past
// VerifyBy, deleting its key) cannot pin afterwards, even once its key would verify: pin
// refuses an entry that is no longer its own, and the old key stays pinned.
func TestPinRefusesReleasedEntry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		keys := &rsKeys{live: map[string]time.Time{}, refuseFor: 2 * upkeep.VerifyWindow}
		s, id := rsService(t, keys)
		ctx := context.Background()
		if ok, err := s.RotateKey(ctx, id, true); ok || err != nil {
			t.Fatalf("RotateKey = %v, %v; want the entry verifying", ok, err)
		}
		c, _ := s.Store.Get(ctx, id)
		p := *c.Rotation.Pending
		time.Sleep(upkeep.VerifyWindow + time.Minute)
		if _, err := s.RepairRotation(ctx, c); err != nil {
			t.Fatalf("RepairRotation = %v", err)
		}
		if _, live := keys.live[p.KeyID]; live {
			t.Fatalf("the released rotation's key %s is live; want it deleted", p.KeyID)
		}
		ok, err := s.PinRotation(ctx, c, p)
		c, _ = s.Store.Get(ctx, id)
		if ok || err != nil || c.Rotation.KeyID != "k0" || c.Rotation.Generation != 0 {
			t.Errorf("PinRotation of the released entry = %v, %v; rotation %+v; want refused, k0 still pinned", ok, err, c.Rotation)
		}
	})
}
