package testbuild

import (
	"debug/buildinfo"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

// TestCommandBuildsLikeTheTest: the program Command builds has the test binary's -race setting.
func TestCommandBuildsLikeTheTest(t *testing.T) {
	dir := t.TempDir()
	src, out := filepath.Join(dir, "main.go"), filepath.Join(dir, "probe")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := Command(out, src).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	self, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("the test binary has no build info")
	}
	built, err := buildinfo.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := race(built), race(self); got != want || want != Race {
		t.Errorf("built program has -race=%v; the test binary has -race=%v (Race = %v)", got, want, Race)
	}
}

func race(info *debug.BuildInfo) bool {
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}
