package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// PubSubShards publishes sweep shards to a Pub/Sub topic (GCPCONN_SWEEP_TOPIC), whose push
// subscription delivers each to the sweep worker (/sweep-shard). A message's data is the
// shard as JSON; its attributes name the run and the shard index (for filtering and the
// dead-letter topic's readers). It is safe for concurrent use.
type PubSubShards struct {
	pub   *pubsub.Publisher
	topic string
}

// NewPubSubShards publishes to topic (projects/P/topics/T) with client (which honours
// PUBSUB_EMULATOR_HOST). Stop it when done.
func NewPubSubShards(client *pubsub.Client, topic string) *PubSubShards {
	return &PubSubShards{pub: client.Publisher(topic), topic: topic}
}

// PublishShard publishes sh and waits until Pub/Sub has accepted it.
func (p *PubSubShards) PublishShard(ctx context.Context, sh upkeep.SweepShard) error {
	data, err := json.Marshal(sh)
	if err != nil {
		return fmt.Errorf("store: encode sweep shard: %w", err)
	}
	msg := &pubsub.Message{Data: data, Attributes: map[string]string{"run": sh.Run, "shard": strconv.Itoa(sh.Index)}}
	if _, err := p.pub.Publish(ctx, msg).Get(ctx); err != nil {
		kind := connector.ErrUpstreamUnavailable
		switch status.Code(err) {
		case codes.NotFound:
			kind = connector.ErrFailedPrecondition
		case codes.PermissionDenied:
			kind = connector.ErrInternal
		}
		return &connector.Error{Kind: kind, Err: err,
			Message: fmt.Sprintf("store: publish sweep shard %d to %s failed (%s)", sh.Index, p.topic, status.Code(err))}
	}
	return nil
}

// Stop flushes and stops the publisher.
func (p *PubSubShards) Stop() { p.pub.Stop() }
