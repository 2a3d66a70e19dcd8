package upkeep

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// Secret Manager event types that Refresh acts on (the "eventType" attribute of Secret
// Manager's Pub/Sub notifications). Others (SECRET_CREATE, SECRET_UPDATE, TOPIC_CONFIGURED)
// are ignored.
const (
	EventVersionAdd       = "SECRET_VERSION_ADD"
	EventVersionEnable    = "SECRET_VERSION_ENABLE"
	EventVersionDisable   = "SECRET_VERSION_DISABLE"
	EventVersionDestroy   = "SECRET_VERSION_DESTROY"
	EventDestroyScheduled = "SECRET_VERSION_DESTROY_SCHEDULED"
	EventSecretDelete     = "SECRET_DELETE"
	EventSecretRotate     = "SECRET_ROTATE"
)

// SecretEvent is one Secret Manager notification about a connector's secret, as decoded by
// the edge from the Pub/Sub message.
type SecretEvent struct {
	Type   string // eventType, e.g. SECRET_VERSION_ADD
	Secret string // projects/P/secrets/S
	// Labels are the secret's labels when the event carried the secret (secret-level
	// events); nil otherwise.
	Labels map[string]string
	// ConnectorID is the connector the secret belongs to. "" means Refresh asks the secret
	// store (SecretStore.ConnectorOfSecret) for the owner of Secret; an event no connector owns is ignored.
	ConnectorID string
	// Version is the version the event is about (its last path segment, e.g. "3"); "" for
	// secret-level events.
	Version     string
	MessageID   string    // Pub/Sub message id, for logs
	PublishTime time.Time // zero when unknown
}

// Refresh reacts to a Secret Manager event on a connector's secret:
//
//   - SECRET_VERSION_ADD: a newer version than the pinned one is verified and, if it
//     authenticates, pinned (and the connector's cached tokens dropped); if not, the pin stays
//     and the status records why.
//   - SECRET_VERSION_DISABLE, _DESTROY, _DESTROY_SCHEDULED of the pinned version, and
//     SECRET_DELETE: the connector becomes disabled (minting is refused) and its cached tokens
//     are dropped.
//   - SECRET_VERSION_ENABLE of the pinned version of a disabled connector: it is verified
//     again and re-enabled if it works.
//   - SECRET_ROTATE: a connector with a rotation period has its key rotated (Rotator: at
//     most one new key per period, however often the event comes); for others the status
//     records that rotation is due.
//
// Events are idempotent and order-insensitive: a duplicate changes nothing, and an event
// about an older version than the pinned one is ignored. Refresh returns an error only when
// retrying the event could help (the store or Google unavailable, a lost write race that kept
// losing); events for unknown connectors or versions are logged and dropped.
func (s *Keeper) Refresh(ctx context.Context, ev SecretEvent) error {
	if ev.ConnectorID == "" {
		ev.ConnectorID, _ = s.Secrets.ConnectorOfSecret(ev.Secret, ev.Labels)
	}
	log := s.log().With("event_type", ev.Type, "connector_id", ev.ConnectorID, "secret_version", ev.Version, "message_id", ev.MessageID)
	if ev.ConnectorID == "" {
		log.InfoContext(ctx, "refresh: event is not about a connector secret; ignored", "secret", ev.Secret)
		return nil
	}
	c, err := s.Store.Get(ctx, ev.ConnectorID)
	if errors.Is(err, connector.ErrNotFound) {
		log.InfoContext(ctx, "refresh: no such connector; ignored (sweep removes orphan secrets)")
		return nil
	}
	if err != nil {
		return connector.Retryable(fmt.Errorf("refresh: load connector %s: %w", ev.ConnectorID, err))
	}

	switch ev.Type {
	case EventVersionAdd:
		err = s.refreshAdd(ctx, c, ev)
	case EventVersionDisable, EventVersionDestroy, EventDestroyScheduled:
		if !sameVersion(ev.Version, c.SecretVersion) {
			log.InfoContext(ctx, "refresh: event is not about the pinned version; ignored", "pinned_version", c.SecretVersion)
			return nil
		}
		err = s.Disable(ctx, c, fmt.Sprintf("the pinned secret version %s of connector %q was %s: update the connector with new credentials",
			ev.Version, c.Name, eventVerb(ev.Type)))
	case EventSecretDelete:
		if c.SecretVersion == "" {
			return nil
		}
		err = s.Disable(ctx, c, fmt.Sprintf("the secret of connector %q was deleted: update the connector with new credentials", c.Name))
	case EventVersionEnable:
		if !sameVersion(ev.Version, c.SecretVersion) || c.Status.State != connector.StateDisabled {
			return nil
		}
		err = s.Reenable(ctx, c)
	case EventSecretRotate:
		err = s.refreshRotate(ctx, c, ev.PublishTime)
	default:
		log.InfoContext(ctx, "refresh: event type not acted on; ignored")
		return nil
	}
	if err != nil {
		log.ErrorContext(ctx, "refresh failed", "error", err)
		return connector.Retryable(err)
	}
	return nil
}

// refreshRotate acts on SECRET_ROTATE published at published (see Refresh).
func (s *Keeper) refreshRotate(ctx context.Context, c *connector.Connector, published time.Time) error {
	if c.Rotation.Period != 0 && s.Rotator != nil {
		_, err := s.Rotator.RotateOnEvent(ctx, c.ID, published)
		if err != nil && connector.Retryable(err) == nil {
			// Recorded on the connector (Rotation.LastError, the status); sweep rotates an
			// overdue key again.
			s.log().WarnContext(ctx, "refresh: key rotation failed", "connector_id", c.ID, "error", connector.MessageOf(err))
			return nil
		}
		return err
	}
	_, err := s.UpdateStatus(ctx, c.ID, func(cur *connector.Connector) bool {
		if cur.Status.RotationDue {
			return false
		}
		cur.Status.RotationDue = true
		return true
	})
	return err
}

func eventVerb(t string) string {
	switch t {
	case EventVersionDisable:
		return "disabled"
	case EventDestroyScheduled:
		return "scheduled for destruction"
	}
	return "destroyed"
}

// RefreshAddGrace is how long after its publication a SECRET_VERSION_ADD event is acted on.
// Update adds a version and pins it a few milliseconds later; acting on the event inside that
// window would pin the version under the update's feet and make it fail. After the grace the
// connector is read again, and a version the update pinned meanwhile is left alone.
const RefreshAddGrace = 2 * time.Second

// afterAddGrace waits until RefreshAddGrace after the event's publication and reads the
// connector again (nil when it is gone); without a wait it returns c.
func (s *Keeper) afterAddGrace(ctx context.Context, c *connector.Connector, ev SecretEvent) (*connector.Connector, error) {
	wait := ev.PublishTime.Add(RefreshAddGrace).Sub(s.now())
	if ev.PublishTime.IsZero() || wait <= 0 {
		return c, nil
	}
	t := time.NewTimer(min(wait, RefreshAddGrace))
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
		return nil, ctx.Err()
	}
	cur, err := s.Store.Get(ctx, c.ID)
	if errors.Is(err, connector.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("refresh: load connector %s: %w", c.ID, err)
	}
	return cur, nil
}

// refreshAdd verifies a new secret version and pins it if it authenticates.
func (s *Keeper) refreshAdd(ctx context.Context, c *connector.Connector, ev SecretEvent) error {
	if c.Rotation.Pending != nil {
		return nil // a key rotation in flight verifies and pins its own version
	}
	c, err := s.afterAddGrace(ctx, c, ev)
	if err != nil || c == nil || c.Rotation.Pending != nil {
		return err // gone, or a key rotation in flight: it verifies and pins its own version
	}
	log := s.log().With("connector_id", c.ID, "secret_version", ev.Version, "pinned_version", c.SecretVersion)
	if sameVersion(ev.Version, c.SecretVersion) && c.Status.State == connector.StateDisabled {
		return s.Reenable(ctx, c) // pinned by this event, but its status was not written
	}
	if ev.Version == "" || c.SecretVersion == "" || !newerVersion(ev.Version, c.SecretVersion) {
		log.InfoContext(ctx, "refresh: version is not newer than the pinned one; ignored")
		return nil
	}
	reason, err := s.VerifyVersion(ctx, c, ev.Version)
	switch connector.KindOf(err) {
	case "":
		if err != nil {
			return err
		}
	case connector.ErrFailedPrecondition:
		// Disabled or destroyed before anyone pinned it (a rolled-back key rotation does
		// that): nothing to pin, nothing wrong with the pinned one.
		log.InfoContext(ctx, "refresh: the new version is disabled or destroyed; ignored")
		return nil
	case connector.ErrNotFound, connector.ErrInvalid:
		reason = "it cannot be read: " + connector.MessageOf(err)
	default:
		return err
	}
	now := s.now()
	stillOlder := func(cur *connector.Connector) bool {
		return cur.SecretVersion != "" && newerVersion(ev.Version, cur.SecretVersion) && cur.SecretVersion == c.SecretVersion
	}
	if reason != "" {
		msg := fmt.Sprintf("new secret version %s of connector %q was not pinned: %s", ev.Version, c.Name, reason)
		log.WarnContext(ctx, "refresh: new version failed verification; keeping the pinned one", "reason", reason)
		_, err := s.UpdateStatus(ctx, c.ID, func(cur *connector.Connector) bool {
			if !stillOlder(cur) {
				return false
			}
			cur.Status.Error, cur.Status.CheckedAt = msg, now
			if cur.Status.State == connector.StateUnknown {
				cur.Status.State = connector.StateError
			}
			return true
		})
		return err
	}
	pinned, err := s.UpdateConnector(ctx, c.ID, func(cur *connector.Connector) bool {
		if !stillOlder(cur) {
			return false
		}
		cur.SecretVersion = ev.Version
		cur.CleanupAfter = now // the version it replaces is sweep's to destroy
		return true
	})
	if err != nil || !pinned {
		return err
	}
	s.Forget(c.ID)
	log.InfoContext(ctx, "refresh: pinned the new secret version")
	return s.pinnedStatus(ctx, c.ID, ev.Version, connector.Status{State: connector.StateOK, CheckedAt: now})
}

// pinnedStatus records st, the verification of version, once version is pinned. Its failure
// is retried with the event; refreshAdd then finds the version pinned and a connector still
// disabled by its previous version, and re-enables it.
func (s *Keeper) pinnedStatus(ctx context.Context, id, version string, st connector.Status) error {
	_, err := s.UpdateStatus(ctx, id, func(cur *connector.Connector) bool {
		if cur.SecretVersion != version {
			return false // pinned again meanwhile: that pin's status wins
		}
		cur.Status = st.Keeping(cur.Status)
		return true
	})
	return err
}

// VersionID returns the last path segment of a secret version name
// ("projects/P/secrets/S/versions/3" → "3"); a bare id is returned as is.
func VersionID(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	return name
}

func sameVersion(a, b string) bool { return a != "" && VersionID(a) == VersionID(b) }

// newerVersion reports whether version a is newer than b. Secret Manager numbers versions
// 1, 2, 3...; non-numeric ids cannot be ordered and count as newer when they differ.
func newerVersion(a, b string) bool {
	a, b = VersionID(a), VersionID(b)
	x, errA := strconv.ParseInt(a, 10, 64)
	y, errB := strconv.ParseInt(b, 10, 64)
	if errA != nil || errB != nil {
		return a != b
	}
	return x > y
}
