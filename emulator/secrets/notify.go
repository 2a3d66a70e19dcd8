package secrets

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// PubSubNotifier publishes notifications through the Pub/Sub emulator with
// the real Pub/Sub client. Topics must exist in the emulator (as with
// Google, where a missing topic makes the publish fail).
type PubSubNotifier struct {
	client *pubsub.Client

	mu         sync.Mutex
	publishers map[string]*pubsub.Publisher
}

// NewPubSubNotifier connects to the emulator at host ("127.0.0.1:8085").
func NewPubSubNotifier(ctx context.Context, host string) (*PubSubNotifier, error) {
	c, err := pubsub.NewClient(ctx, "secret-manager-notifications",
		option.WithEndpoint(host),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		return nil, fmt.Errorf("secrets: pubsub client for %s: %w", host, err)
	}
	return &PubSubNotifier{client: c, publishers: map[string]*pubsub.Publisher{}}, nil
}

// Notify publishes n to topic and waits for the emulator's acknowledgement.
func (p *PubSubNotifier) Notify(ctx context.Context, topic string, n Notification) error {
	p.mu.Lock()
	pub, ok := p.publishers[topic]
	if !ok {
		pub = p.client.Publisher(topic)
		pub.PublishSettings.CountThreshold = 1
		pub.PublishSettings.DelayThreshold = time.Millisecond
		p.publishers[topic] = pub
	}
	p.mu.Unlock()
	_, err := pub.Publish(ctx, &pubsub.Message{Data: n.Data, Attributes: n.Attributes}).Get(ctx)
	if err != nil {
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	return nil
}

// Close stops the publishers and the client.
func (p *PubSubNotifier) Close() error {
	p.mu.Lock()
	for _, pub := range p.publishers {
		pub.Stop()
	}
	p.publishers = map[string]*pubsub.Publisher{}
	p.mu.Unlock()
	return p.client.Close()
}

// PushNotifier delivers notifications to an HTTP endpoint as a Pub/Sub push
// subscription would: POST of {"message":{attributes, data (base64),
// messageId, publishTime}, "subscription": ...}. A 2xx answer acknowledges.
type PushNotifier struct {
	URL    string
	Client *http.Client // http.DefaultClient if nil
	Now    func() time.Time
	// Token, when set, returns the OIDC ID token sent as the bearer token of each push (a
	// push subscription's authentication, which the refresh function requires).
	Token func(ctx context.Context) (string, error)
}

// PushEnvelope is the body of a Pub/Sub push request.
type PushEnvelope struct {
	Message      PushMessage `json:"message"`
	Subscription string      `json:"subscription"`
}

// PushMessage is the message of a push request; data is base64 in JSON.
type PushMessage struct {
	Attributes   map[string]string `json:"attributes,omitempty"`
	Data         []byte            `json:"data"`
	MessageID    string            `json:"messageId"`
	MessageID2   string            `json:"message_id"`
	PublishTime  string            `json:"publishTime"`
	PublishTime2 string            `json:"publish_time"`
}

// Notify posts n to the push URL. The subscription name is derived from the
// topic: projects/P/subscriptions/T-push.
func (p *PushNotifier) Notify(ctx context.Context, topic string, n Notification) error {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	id, err := rand.Int(rand.Reader, big.NewInt(1<<53))
	if err != nil {
		return fmt.Errorf("message id: %w", err)
	}
	published := now().UTC().Format(time.RFC3339Nano)
	sub := strings.Replace(topic, "/topics/", "/subscriptions/", 1) + "-push"
	body, err := json.Marshal(PushEnvelope{
		Message: PushMessage{Attributes: n.Attributes, Data: n.Data, MessageID: id.String(), MessageID2: id.String(),
			PublishTime: published, PublishTime2: published},
		Subscription: sub,
	})
	if err != nil {
		return fmt.Errorf("encode push message: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("push request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if p.Token != nil {
		tok, err := p.Token(ctx)
		if err != nil {
			return fmt.Errorf("push token: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	c := p.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("push to %s: %w", p.URL, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("push to %s: status %d", p.URL, resp.StatusCode)
	}
	return nil
}
