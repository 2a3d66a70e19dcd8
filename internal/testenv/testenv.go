// Package testenv is what every test binary of gcpconn sets up before its tests run.
//
// The Google client libraries look for Application Default Credentials and, when there are
// none, probe the GCE metadata server at 169.254.169.254. Tests must never reach a
// non-loopback address, so every package's TestMain starts with [Main] (or calls [Guard]
// when it has more to do): GCE_METADATA_HOST then names a closed loopback port, unless the
// caller already points it at a loopback address (a fake metadata server, or scripts/test.sh's
// own guard). A test that needs the metadata server starts the fake and sets the variable
// itself, with t.Setenv.
package testenv

import (
	"net"
	"os"
	"testing"
)

// ClosedMetadataHost is the loopback address that nothing listens on, for GCE_METADATA_HOST.
const ClosedMetadataHost = "127.0.0.1:1"

// Guard points GCE_METADATA_HOST at ClosedMetadataHost unless it already names a loopback
// address.
func Guard() {
	if !IsLoopback(os.Getenv("GCE_METADATA_HOST")) {
		os.Setenv("GCE_METADATA_HOST", ClosedMetadataHost)
	}
}

// Main guards the metadata host, runs the package's tests and exits with their status: the
// whole TestMain of a package that needs nothing else.
func Main(m *testing.M) {
	Guard()
	os.Exit(m.Run())
}

// IsLoopback reports whether hostport ("127.0.0.1:8080", "[::1]:80", "localhost:1") names a
// loopback host.
func IsLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
