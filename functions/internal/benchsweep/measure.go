package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// runView is what the benchmark reads of GET /sweep?run=ID.
type runView struct {
	Run        string `json:"run"`
	State      string `json:"state"`
	Connectors int    `json:"connectors"`
	Shards     struct {
		Planned, Done, Failed, Running int
	} `json:"shards"`
	Checked, OK, Failed, Inconclusive int
	UncheckedCount                    int    `json:"unchecked_count"`
	PlanError                         string `json:"plan_error"`
}

// measureRun starts one sweep run, waits for its record to say done, and prints what it
// cost. It fails when the run did not finish in time or a connector was not checked exactly
// once.
func (b *bench) measureRun(i int) error {
	before := b.fake.Faults().Counts()
	b.buckets.reads.Take()
	if b.rpcs != nil {
		b.rpcs.Take()
	}
	cpu := b.o.cpu.sample()
	start := time.Now()
	body, _ := json.Marshal(map[string]int{"shard_size": b.o.shardSize, "concurrency": b.o.conc})
	status, out, err := b.call(http.MethodPost, "/sweep", body)
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("POST /sweep: %d %s %v", status, out, err)
	}
	var v runView
	if err := json.Unmarshal(out, &v); err != nil {
		return err
	}
	planned := time.Since(start)
	if v, err = b.waitDone(v.Run, start); err != nil {
		return err
	}
	wall := time.Since(start)
	cpuUsed := cpuPer(cpu, b.o.cpu.sample(), b.o.connectors)
	apis, metadata := byAPI(before, b.fake.Faults().Counts())
	n := b.o.connectors
	fmt.Printf("run %d (%s): %d connectors, %d shards of %d (%d failed), store %s, %v a Google call\n",
		i, v.Run, v.Connectors, v.Shards.Planned, b.o.shardSize, v.Shards.Failed, b.o.store, b.o.latency)
	fmt.Printf("  wall time %.1f s (planned in %.1f s), %.1f connectors/s\n", wall.Seconds(), planned.Seconds(), float64(n)/wall.Seconds())
	fmt.Printf("  report: %d checked, %d ok, %d failed, %d inconclusive, %d unchecked\n", v.Checked, v.OK, v.Failed, v.Inconclusive, v.UncheckedCount)
	fmt.Printf("  Google calls per connector: %s\n", perConnector(apis, n))
	fmt.Printf("  Secret Manager metadata reads: %d per run (%.3f per connector)\n", metadata, float64(metadata)/float64(n))
	if b.rpcs != nil {
		fmt.Printf("  Firestore calls per connector: %s\n", perConnector(b.rpcs.Take(), n))
	}
	fmt.Printf("  CPU ms per connector: %s\n", cpuUsed)
	if err := checkedOnce(b.buckets.reads.Take(), n); err != nil {
		return fmt.Errorf("run %s: %v, counted at the fake's Cloud Storage", v.Run, err)
	}
	fmt.Printf("  every connector checked exactly once (%d bucket reads at the fake, one per connector)\n", n)
	return nil
}

// waitDone polls the run record until it is done (at most -run-timeout after start).
func (b *bench) waitDone(run string, start time.Time) (runView, error) {
	var v runView
	for {
		status, out, err := b.call(http.MethodGet, "/sweep?run="+run, nil)
		if err == nil && status == http.StatusOK {
			if err := json.Unmarshal(out, &v); err != nil {
				return v, err
			}
			if v.State == "done" {
				return v, nil
			}
		}
		if time.Since(start) > b.o.runTimeout {
			return v, fmt.Errorf("run %s not done after %v: %s %v", run, b.o.runTimeout, out, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
