//go:build !race

package testbuild

// Race says whether this binary was built with the race detector (go test -race). A test
// that skips under it is run without it by scripts/test.sh when its name has Alloc in it.
const Race = false
