package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of utime and stime in /proc/PID/stat (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// cpuGroups are the processes whose CPU time the benchmark reports, by name: each a process
// group (the emulators as the script spawned them, serve and pushauth as started here), and
// "benchsweep" (this process: the fake Google and the counting proxies).
type cpuGroups map[string]int

// parseCPUGroups reads -cpu-groups "firestore=PGID,pubsub=PGID".
func parseCPUGroups(s string) (cpuGroups, error) {
	g := cpuGroups{}
	for _, kv := range strings.Split(s, ",") {
		if kv == "" {
			continue
		}
		name, v, _ := strings.Cut(kv, "=")
		pgid, err := strconv.Atoi(v)
		if err != nil || pgid <= 0 {
			return nil, fmt.Errorf("-cpu-groups: %q is not NAME=PGID", kv)
		}
		g[name] = pgid
	}
	return g, nil
}

// sample returns the CPU time (user + system) used so far by each group's live processes.
func (g cpuGroups) sample() map[string]time.Duration {
	out := map[string]time.Duration{"benchsweep": procCPU("/proc/self/stat", 0)}
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	for name, pgid := range g {
		for _, p := range paths {
			out[name] += procCPU(p, pgid)
		}
	}
	return out
}

// procCPU returns the CPU time of the process whose stat file is path, if its process group
// is pgid (any group for 0).
func procCPU(path string, pgid int) time.Duration {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // state ppid pgrp ... utime(11) stime(12)
	if len(f) < 13 {
		return 0
	}
	if grp, _ := strconv.Atoi(f[2]); pgid != 0 && grp != pgid {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * clockTick
}

// cpuPer formats the CPU time each group used between two samples, in ms per connector.
func cpuPer(before, after map[string]time.Duration, n int) string {
	names := make([]string, 0, len(after))
	var total time.Duration
	for k := range after {
		names = append(names, k)
		total += after[k] - before[k]
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names)+1)
	for _, k := range names {
		parts = append(parts, fmt.Sprintf("%s %.1f", k, float64((after[k]-before[k]).Microseconds())/1000/float64(n)))
	}
	return strings.Join(append(parts, fmt.Sprintf("total %.1f", float64(total.Microseconds())/1000/float64(n))), ", ")
}
