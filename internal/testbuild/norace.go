//go:build !race

package testbuild

// Race says whether this binary was built with the race detector (go test -race).
const Race = false
