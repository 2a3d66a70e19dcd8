// Package fsemu runs the official Firestore emulator (the JVM of gcloud's
// cloud-firestore-emulator component) for tests that stop, freeze and restart the store:
// each Emulator is one process group on a free 127.0.0.1 port, stopped by its PID.
package fsemu

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Jar is the emulator's jar under CLOUDSDK_ROOT (default /usr/lib/google-cloud-sdk).
func Jar() string {
	sdk := os.Getenv("CLOUDSDK_ROOT")
	if sdk == "" {
		sdk = "/usr/lib/google-cloud-sdk"
	}
	return filepath.Join(sdk, "platform", "cloud-firestore-emulator", "cloud-firestore-emulator.jar")
}

// Emulator is a running (or stopped) Firestore emulator.
type Emulator struct {
	// Addr is host:port, the value for FIRESTORE_EMULATOR_HOST; it stays the same across
	// Restart.
	Addr string
	log  string
	cmd  *exec.Cmd
}

// Start starts an emulator on a free loopback port and waits (up to 90 s) until it answers;
// Cleanup stops it. It skips tb, saying so, when java or the emulator's jar is missing.
func Start(tb testing.TB) *Emulator {
	tb.Helper()
	if _, err := os.Stat(Jar()); err != nil {
		tb.Skipf("the Firestore emulator is missing (%s): install gcloud's cloud-firestore-emulator component", Jar())
	}
	if _, err := exec.LookPath("java"); err != nil {
		tb.Skip("java is missing: the Firestore emulator needs it")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	e := &Emulator{Addr: addr, log: filepath.Join(tb.TempDir(), "firestore.log")}
	tb.Cleanup(e.Stop)
	e.start(tb)
	return e
}

// start spawns the JVM in its own process group and waits until it answers HTTP.
func (e *Emulator) start(tb testing.TB) {
	tb.Helper()
	_, port, _ := net.SplitHostPort(e.Addr)
	out, err := os.OpenFile(e.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		tb.Fatalf("emulator log: %v", err)
	}
	defer out.Close()
	cmd := exec.Command("java", "-Duser.language=en", "-cp", Jar(),
		"com.google.cloud.datastore.emulator.firestore.CloudFirestore", "start",
		"--host=127.0.0.1", "--port="+port)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start the Firestore emulator: %v", err)
	}
	e.cmd = cmd
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	hc := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); {
		select {
		case <-exited:
			log, _ := os.ReadFile(e.log)
			tb.Fatalf("the Firestore emulator exited before answering:\n%s", log)
		case <-time.After(100 * time.Millisecond): // polling another process, not synchronising goroutines
		}
		if resp, err := hc.Get("http://" + e.Addr + "/"); err == nil {
			resp.Body.Close()
			return
		}
	}
	log, _ := os.ReadFile(e.log)
	tb.Fatalf("the Firestore emulator did not answer at %s within 90 s:\n%s", e.Addr, log)
}

// PID is the emulator's process id (its process group's id).
func (e *Emulator) PID() int { return e.cmd.Process.Pid }

// Stop kills the emulator's process group and waits for the process to exit; the
// emulator's data is lost. Stopping a stopped emulator does nothing.
func (e *Emulator) Stop() {
	if e.cmd == nil {
		return
	}
	pid := e.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(50 * time.Millisecond) // waiting for another process to exit
	}
	e.cmd = nil
}

// Restart stops the emulator and starts a new one on the same address.
func (e *Emulator) Restart(tb testing.TB) {
	tb.Helper()
	e.Stop()
	e.start(tb)
}

// Freeze stops the emulator's processes (SIGSTOP): connections stay open, calls hang.
func (e *Emulator) Freeze() error { return e.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen emulator (SIGCONT).
func (e *Emulator) Thaw() error { return e.signal(syscall.SIGCONT) }

func (e *Emulator) signal(s syscall.Signal) error {
	if e.cmd == nil {
		return fmt.Errorf("fsemu: the emulator is not running")
	}
	return syscall.Kill(-e.cmd.Process.Pid, s)
}
