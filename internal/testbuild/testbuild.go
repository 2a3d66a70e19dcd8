// Package testbuild builds the programs that tests run as processes (the CLI, the functions'
// local server, deploy helpers) in the test binary's own build configuration: with the race
// detector when the test runs with it (go test -race), without it otherwise.
//
// One configuration means one build of every package in the Go build cache: scripts/test.sh
// vets with -race and tests with -race, so the programs a test builds link packages that are
// already compiled instead of compiling every dependency a second time. The programs also run
// with the race detector then, so a data race in them fails the test that ran them (exit 66).
//
// A race-built program waits a second at exit for late race reports (GORACE's atexit_sleep_ms,
// 1000 by default); the tests run these programs hundreds of times, so a test binary that imports
// this package sets GORACE=atexit_sleep_ms=0 for the processes it starts, unless GORACE is set.
package testbuild

import (
	"os"
	"os/exec"
)

func init() {
	if _, set := os.LookupEnv("GORACE"); Race && !set {
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
}

// Command returns `go build [-race] -o out pkg`, for the caller to set Dir on and run.
func Command(out, pkg string) *exec.Cmd {
	args := []string{"build"}
	if Race {
		args = append(args, "-race")
	}
	return exec.Command("go", append(args, "-o", out, pkg)...)
}
