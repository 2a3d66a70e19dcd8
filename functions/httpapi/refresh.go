package httpapi

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/exactjson"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// Refresh is the CloudEvent function behind Secret Manager notifications (Pub/Sub
// messagePublished events). It returns an error, so that Pub/Sub redelivers the event, only
// when a retry could help; malformed events and events about unknown secrets are logged and
// acknowledged. When deployed, only the trigger's service account may invoke it (Cloud Run
// IAM, see scripts/deploy.sh); the framework hands it no request to re-check a token on.
func (a *API) Refresh(ctx context.Context, e event.Event) error {
	ctx, span := traceEvent(ctx, e, "refresh")
	defer span.End()
	ctx, cancel := a.withDeadline(ctx)
	defer cancel()
	var push pubsubPush
	if err := exactjson.Decode(e.Data(), &push); err != nil {
		a.log().WarnContext(ctx, "refresh: event data is not a Pub/Sub message; dropped", "event_id", e.ID(), "event_type", e.Type(), "error", err.Error())
		return nil
	}
	k, err := a.keeper(ctx)
	if err != nil {
		a.log().ErrorContext(ctx, "refresh: build service", "error", err.Error())
		return fmt.Errorf("refresh: build service: %w", err)
	}
	return k.Refresh(ctx, secretEvent(push, e.ID()))
}

// RefreshHTTP serves refresh over plain HTTP (functions/cmd/serve, tests): it accepts the
// event as a binary-mode CloudEvent (ce-* headers, the message as body), a structured-mode
// CloudEvent (application/cloudevents+json, the message in "data"), or a raw Pub/Sub push
// body. The caller must be an admin (the push subscription's OIDC identity). It answers 204
// when the event is handled or dropped, and an error status when a retry could help.
func (a *API) RefreshHTTP(w http.ResponseWriter, r *http.Request) {
	a.serve(w, r, "refresh", func(c *call) error {
		if err := c.svc.AuthorizeOperator(c.p); err != nil {
			return err
		}
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		var push pubsubPush
		id := r.Header.Get("Ce-Id")
		if mt == "application/cloudevents+json" {
			var ce structuredEvent
			if !c.decode(&ce, false) {
				return nil // answered
			}
			var err error
			if push, id, err = pushOf(ce); err != nil {
				return err
			}
		} else if !c.decode(&push, false) {
			return nil // answered
		}
		if push.Message.Attributes["eventType"] == "" {
			return connector.FieldErrorf("message.attributes.eventType", "Pub/Sub message has no eventType attribute: not a Secret Manager notification")
		}
		if id == "" {
			id = push.messageID()
		}
		k, err := c.keeper()
		if err != nil {
			return err
		}
		if err := k.Refresh(c.ctx, secretEvent(push, id)); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// pushOf finds the Pub/Sub message of a structured CloudEvent (in data, or data_base64), and
// the event's id.
func pushOf(ce structuredEvent) (pubsubPush, string, error) {
	switch {
	case ce.Data != nil:
		return *ce.Data, ce.ID, nil
	case len(ce.DataBase64) > 0:
		var push pubsubPush
		if err := decodeStrict(ce.DataBase64, &push); err != nil {
			return push, "", connector.FieldErrorf("data_base64", "data_base64 is not a Pub/Sub message: %v", err)
		}
		return push, ce.ID, nil
	}
	return pubsubPush{}, "", connector.FieldErrorf("data", "structured CloudEvent has no data: send the Pub/Sub message in data")
}

func (p pubsubPush) messageID() string {
	if p.Message.MessageID != "" {
		return p.Message.MessageID
	}
	return p.Message.MessageID2
}

// secretEvent reads a Secret Manager notification: attributes eventType, secretId (the
// secret's name) and versionId (the version's name) when present; the data (the Secret or
// SecretVersion JSON) for the names and labels otherwise.
func secretEvent(p pubsubPush, id string) upkeep.SecretEvent {
	attrs := p.Message.Attributes
	var data secretJSONData
	_ = exactjson.Decode(p.Message.Data, &data) // best effort: attributes carry what matters
	ev := upkeep.SecretEvent{
		Type:      attrs["eventType"],
		Secret:    attrs["secretId"],
		Version:   attrs["versionId"],
		MessageID: id,
	}
	if t, err := time.Parse(time.RFC3339Nano, p.Message.PublishTime); err == nil {
		ev.PublishTime = t
	}
	if ev.MessageID == "" {
		ev.MessageID = p.messageID()
	}
	if secret, version, ok := strings.Cut(data.Name, "/versions/"); ok {
		if ev.Secret == "" {
			ev.Secret = secret
		}
		if ev.Version == "" {
			ev.Version = version
		}
	} else if ev.Secret == "" {
		ev.Secret = data.Name
	}
	if strings.HasPrefix(ev.Type, "SECRET_VERSION_") {
		ev.Version = upkeep.VersionID(ev.Version)
	} else {
		ev.Version = ""
	}
	// The secret store maps the secret to its connector (SecretStore.ConnectorOfSecret); other
	// secrets are not gcpconn's, and their events are ignored.
	ev.Labels = data.Labels
	return ev
}
