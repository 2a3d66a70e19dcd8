package infratest

import (
	"strconv"
	"testing"

	"github.com/gcpconn/gcpconn/shared/upkeep"
)

// TestTerraformSweepFanOut: Terraform creates the sweep topic, its push subscription to
// sweep-shard (OIDC as the scheduler account for the service audience, ack deadline = the
// worker's timeout, dead-lettering after upkeep.MaxShardAttempts deliveries), the
// dead-letter topic with a subscription that keeps it, and the grants dead-lettering needs.
func TestTerraformSweepFanOut(t *testing.T) {
	m := loadInfra(t, nil)
	topics := m.Find("resource", "google_pubsub_topic", "topic")
	if topics == nil {
		t.Fatal("no google_pubsub_topic.topic")
	}
	topic, dlq := topics.Instance("sweep"), topics.Instance("sweep_dead_letter")
	if topic == nil || dlq == nil || str(t, topic, "name") != sweepTopic || str(t, dlq, "name") != sweepDLQ {
		t.Fatalf("want topics %s and %s", sweepTopic, sweepDLQ)
	}
	sub := m.Find("resource", "google_pubsub_subscription", "sweep")
	if sub == nil {
		t.Fatal("no push subscription on the sweep topic")
	}
	in := sub.Instances[0]
	push := block(t, in, "push_config")
	oidc := block(t, push, "oidc_token")
	dl := block(t, in, "dead_letter_policy")
	got := map[string]string{
		"topic": str(t, in, "topic"), "ack": str(t, in, "ack_deadline_seconds"),
		"endpoint": str(t, push, "push_endpoint"), "sa": str(t, oidc, "service_account_email"), "aud": str(t, oidc, "audience"),
		"dlq": str(t, dl, "dead_letter_topic"), "attempts": str(t, dl, "max_delivery_attempts"),
	}
	want := map[string]string{
		"topic": "${google_pubsub_topic.topic[\"sweep\"].id}", "ack": manifestString(loadManifest(t).Settings["shard_timeout_seconds"]),
		"endpoint": baseURL + "/" + FunctionName("SweepShard"), "sa": tfSchedulerSA, "aud": baseURL,
		"dlq": "${google_pubsub_topic.topic[\"sweep_dead_letter\"].id}", "attempts": strconv.Itoa(upkeep.MaxShardAttempts),
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("sweep subscription %s = %q; want %q", k, got[k], w)
		}
	}
	if s := m.Find("resource", "google_pubsub_subscription", "sweep_dead_letter"); s == nil || str(t, s.Instances[0], "topic") != "${google_pubsub_topic.topic[\"sweep_dead_letter\"].id}" {
		t.Error("nothing keeps the dead-letter topic's messages")
	}
	agent := "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
	grants := map[string]bool{}
	for _, g := range iamGrants(t, m) {
		if g.Member == agent {
			grants[g.Role+" "+g.On] = true
		}
	}
	for _, w := range []string{"roles/pubsub.publisher ${google_pubsub_topic.topic[\"sweep_dead_letter\"].name}", "roles/pubsub.subscriber ${google_pubsub_subscription.sweep.name}"} {
		if !grants[w] {
			t.Errorf("the Pub/Sub service agent lacks %s (dead-lettering needs it); has %v", w, grants)
		}
	}
}

// TestDeploySweepFanOut: deploy.sh creates the same topics and subscriptions, with the same
// push, retry and dead-letter settings.
func TestDeploySweepFanOut(t *testing.T) {
	path, _ := fakeGcloud(t, true)
	out, stderr, err := runDeploy(t, path, "--dry-run", project, region)
	if err != nil {
		t.Fatalf("deploy.sh --dry-run = %v\n%s", err, stderr)
	}
	pushFlags := map[string]string{"push-endpoint": baseURL + "/" + FunctionName("SweepShard"), "push-auth-service-account": schedulerSA,
		"push-auth-token-audience": baseURL, "ack-deadline": manifestString(loadManifest(t).Settings["shard_timeout_seconds"]),
		"dead-letter-topic": sweepDLQ, "max-delivery-attempts": strconv.Itoa(upkeep.MaxShardAttempts)}
	checks := []struct {
		what   string
		prefix []string
		flags  map[string]string
	}{
		{"sweep topic", []string{"gcloud", "pubsub", "topics", "create", sweepTopic}, nil},
		{"runtime publishes shards", []string{"gcloud", "pubsub", "topics", "add-iam-policy-binding", sweepTopic},
			map[string]string{"member": "serviceAccount:" + runtimeSA, "role": "roles/pubsub.publisher"}},
		{"dead-letter topic", []string{"gcloud", "pubsub", "topics", "create", sweepDLQ}, nil},
		{"dead letters kept", []string{"gcloud", "pubsub", "subscriptions", "create", sweepDLQ}, map[string]string{"topic": sweepDLQ}},
		{"agent dead-letters", []string{"gcloud", "pubsub", "topics", "add-iam-policy-binding", sweepDLQ},
			map[string]string{"member": "serviceAccount:service-PROJECT_NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com", "role": "roles/pubsub.publisher"}},
		{"push subscription (create)", []string{"gcloud", "pubsub", "subscriptions", "create", sweepTopic}, pushFlags},
		{"push subscription (update)", []string{"gcloud", "pubsub", "subscriptions", "update", sweepTopic}, pushFlags},
		{"agent acknowledges", []string{"gcloud", "pubsub", "subscriptions", "add-iam-policy-binding", sweepTopic},
			map[string]string{"member": "serviceAccount:service-PROJECT_NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com", "role": "roles/pubsub.subscriber"}},
		{"scheduler invokes the worker", []string{"gcloud", "run", "services", "add-iam-policy-binding", FunctionName("SweepShard")},
			map[string]string{"member": "serviceAccount:" + schedulerSA, "role": "roles/run.invoker"}},
		// One shard per worker instance: with max_instances and GCPCONN_SWEEP_CONCURRENCY, the
		// bound on a run's checks in flight.
		{"worker concurrency", []string{"gcloud", "functions", "deploy", FunctionName("SweepShard")},
			map[string]string{"concurrency": manifestString(loadManifest(t).Settings["shard_concurrency"])}},
	}
	cmds := gcloudCommands(t, out)
	for _, c := range checks {
		found := false
		for _, cmd := range cmds {
			if !hasPrefix(cmd, c.prefix...) {
				continue
			}
			flags, _ := Flags(cmd)
			ok := true
			for k, v := range c.flags {
				if g := flags[k]; len(g) != 1 || g[0] != v {
					ok = false
				}
			}
			found = found || ok
		}
		if !found {
			t.Errorf("%s: the plan has no %v command with %v", c.what, c.prefix, c.flags)
		}
	}
}

// TestSweepRunsExpire: Terraform and deploy.sh put a TTL policy on expire_at (which
// store.FirestoreRuns sets) for the run and shard collection groups.
func TestSweepRunsExpire(t *testing.T) {
	m := loadInfra(t, nil)
	got := map[string]bool{}
	if r := m.Find("resource", "google_firestore_field", "sweep_runs_ttl"); r != nil {
		for _, in := range r.Instances {
			if str(t, in, "field") == "expire_at" && len(mustBlocks(t, in, "ttl_config")) == 1 {
				got[str(t, in, "collection")] = true
			}
		}
	}
	path, _ := fakeGcloud(t, true)
	out, stderr, err := runDeploy(t, path, "--dry-run", project, region)
	if err != nil {
		t.Fatalf("deploy.sh --dry-run = %v\n%s", err, stderr)
	}
	plan := map[string]bool{}
	for _, c := range gcloudCommands(t, out) {
		if flags, _ := Flags(c); hasPrefix(c, "gcloud", "firestore", "fields", "ttls", "update", "expire_at") && len(flags["enable-ttl"]) == 1 {
			plan[flags["collection-group"][0]] = true
		}
	}
	for _, group := range []string{"sweep_runs", "shards"} {
		if !got[group] {
			t.Errorf("Terraform sets no TTL on %s.expire_at", group)
		}
		if !plan[group] {
			t.Errorf("deploy.sh sets no TTL on %s.expire_at", group)
		}
	}
}

func mustBlocks(t *testing.T, in *Instance, typ string) []*Instance {
	t.Helper()
	bs, err := in.Blocks(typ)
	if err != nil {
		t.Fatal(err)
	}
	return bs
}
