// Command benchsweep measures sweep runs as deployed: the real functions
// (functions/cmd/serve) plan a run and work its shards, which the official Pub/Sub emulator
// pushes (through emulator/cmd/pushauth, which adds the push identity's ID token) to
// /sweep-shard, over the Firestore emulator and the fake's Secret Manager (-store google, what
// production runs) or the memory store, with every Google call answered by the fake after
// -latency. scripts/bench-sweep.sh builds the binaries, starts the emulators and runs it.
//
//	benchsweep -serve SERVE -pushauth PUSHAUTH [-store google|memory] [-connectors 1000]
//	           [-latency 20ms] [-shard-size 100] [-concurrency 32] [-runs 1]
//
// It starts the fake Google (demo world, plus one bucket per connector) in this process and
// seeds -connectors service-account connectors, each for a bucket of its own: on Firestore in
// bulk (their secrets through the store's Secret Manager code, their documents with
// Firestore's BulkWriter), on the memory store through /register. Then, per run, it starts a
// sweep (POST /sweep), polls the run record (GET /sweep?run=ID) until it is done, and prints
// the wall time, connectors/s, the Google calls per connector by API and the Secret Manager
// metadata reads (counted by the fake), the Firestore calls per connector (counted by a gRPC
// proxy in front of the emulator, unless -count-firestore=false), the CPU time per connector
// of each process, and whether every connector was checked exactly once: its bucket read
// once at the fake's Cloud Storage (a counting proxy the workers call). It exits 1 when a
// connector was not checked exactly once or the run did not finish. Timings are printed, not
// asserted.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchsweep:", err)
		os.Exit(1)
	}
}

// options are benchsweep's flags.
type options struct {
	serveBin, pushauthBin string
	store                 string // "google" or "memory"
	connectors            int
	latency               time.Duration
	shardSize, conc, runs int
	runTimeout            time.Duration // how long a run may take before the benchmark gives up
	logs                  string        // where the processes' logs go ("": a temporary directory)
	cpu                   cpuGroups     // whose CPU time to report
	countFirestore        bool          // put the counting proxy in front of the Firestore emulator
}

func parseFlags() (options, error) {
	var o options
	flag.StringVar(&o.serveBin, "serve", "", "the functions/cmd/serve binary")
	flag.StringVar(&o.pushauthBin, "pushauth", "", "the emulator/cmd/pushauth binary")
	flag.StringVar(&o.store, "store", "google", "google (Firestore emulator at FIRESTORE_EMULATOR_HOST + the fake's Secret Manager) or memory")
	flag.IntVar(&o.connectors, "connectors", 1000, "connectors to seed and sweep")
	flag.DurationVar(&o.latency, "latency", 20*time.Millisecond, "added to every call the fake Google answers")
	flag.IntVar(&o.shardSize, "shard-size", 100, "connectors per shard (the run's shard_size)")
	flag.IntVar(&o.conc, "concurrency", 32, "connectors a worker checks at once per shard (the run's concurrency)")
	flag.IntVar(&o.runs, "runs", 1, "sweep runs to measure, one after the other")
	flag.StringVar(&o.logs, "logs", "", "keep the logs of serve and pushauth in this directory (default: removed)")
	flag.DurationVar(&o.runTimeout, "run-timeout", 30*time.Minute, "give up on a run after this long")
	flag.BoolVar(&o.countFirestore, "count-firestore", true, "count the functions' Firestore calls (a gRPC proxy in front of the emulator, in this process)")
	groups := flag.String("cpu-groups", "", "NAME=PGID,...: also report the CPU time of these process groups (the emulators)")
	flag.Parse()
	var err error
	if o.cpu, err = parseCPUGroups(*groups); err != nil {
		return o, err
	}
	switch {
	case o.serveBin == "" || o.pushauthBin == "":
		return o, fmt.Errorf("-serve and -pushauth are required (scripts/bench-sweep.sh builds them)")
	case o.store != "google" && o.store != "memory":
		return o, fmt.Errorf("-store %q: want google or memory", o.store)
	case o.connectors < 1 || o.connectors > 1_000_000:
		return o, fmt.Errorf("-connectors %d: want 1 to 1000000", o.connectors)
	case o.shardSize < 1 || o.conc < 1 || o.runs < 1:
		return o, fmt.Errorf("-shard-size, -concurrency, and -runs must be at least 1")
	case os.Getenv("PUBSUB_EMULATOR_HOST") == "":
		return o, fmt.Errorf("PUBSUB_EMULATOR_HOST is not set: the shards go through the Pub/Sub emulator")
	case o.store == "google" && os.Getenv("FIRESTORE_EMULATOR_HOST") == "":
		return o, fmt.Errorf("FIRESTORE_EMULATOR_HOST is not set: -store google needs the Firestore emulator")
	}
	return o, nil
}

func run() error {
	o, err := parseFlags()
	if err != nil {
		return err
	}
	b := &bench{o: o}
	defer b.close()
	if err := b.start(); err != nil {
		return err
	}
	start := time.Now()
	if err := b.seed(context.Background()); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	fmt.Printf("seeded %d connectors (%s store) in %.1f s\n", o.connectors, o.store, time.Since(start).Seconds())
	b.fake.Faults().Set("*", faultLatency(o.latency))
	for i := range o.runs {
		if err := b.measureRun(i + 1); err != nil {
			return err
		}
	}
	return nil
}
