package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/functions/client/clienttest"
)

// TestInteractiveTerminal drives the wizard in a real terminal (tmux) and checks that the
// secret field is not echoed.
func TestInteractiveTerminal(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not found on PATH; install tmux to run the wizard-in-a-terminal check")
	}
	s := clienttest.Start(t)
	w := newWorld(t, s, alice)
	key, _ := s.Fake.KeyJSON(admin)
	kp := w.writeFile("secret-key-file.json", key)

	var script strings.Builder
	script.WriteString("#!/bin/sh\n")
	for _, kv := range w.env() {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&script, "export %s='%s'\n", k, v)
	}
	fmt.Fprintf(&script, "'%s' register -i --type gcp\necho EXIT=$?\nsleep 120\n", filepath.Join(binDir, "gcpconn"))
	sp := w.writeFile("wizard.sh", []byte(script.String()))

	sock := fmt.Sprintf("gcpconn-test-%d", os.Getpid())
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("tmux", append([]string{"-L", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	tmux("new-session", "-d", "-s", "wizard", "-x", "200", "-y", "50", "sh "+sp)
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", sock, "kill-server").Run() }) // only this test's tmux server
	screen := func() string { return tmux("capture-pane", "-p", "-t", "wizard", "-S", "-100") }
	waitFor := func(text string) string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			sc := screen()
			if strings.Contains(sc, text) {
				return sc
			}
			if time.Now().After(deadline) {
				t.Fatalf("the terminal never showed %q:\n%s", text, sc)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	answer := func(prompt, keys string) {
		t.Helper()
		waitFor(strings.TrimSpace(prompt)) // capture-pane drops trailing blanks
		if keys != "" {
			tmux("send-keys", "-t", "wizard", "-l", keys)
		}
		tmux("send-keys", "-t", "wizard", "Enter")
	}
	answer("Connector name: ", "gcp-tty")
	answer("Description (optional): ", "")
	answer("Resource type (blank: every type): ", "gcs-bucket")
	answer("Auth method: ", "3")
	answer("[hidden; @FILE reads a file]: ", "@"+kp)
	answer("Generate temporary tokens (generate_temporary_tokens, optional): ", "")
	answer("GCP project ID (project_id, optional): ", "zenml-core")
	answer("Resource id (blank: any gcs-bucket the credentials reach): ", "")
	sc := waitFor("EXIT=")
	if !strings.Contains(sc, "EXIT=0") || !strings.Contains(sc, "Successfully registered service connector `gcp-tty`") {
		t.Errorf("wizard in a terminal did not succeed:\n%s", sc)
	}
	if strings.Contains(sc, "secret-key-file.json") {
		t.Errorf("the terminal echoed the secret field's input:\n%s", sc)
	}
}
