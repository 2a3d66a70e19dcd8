package main

import (
	"bufio"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// readHidden reads one line from r without echoing it when r is a terminal.
func readHidden(r *bufio.Reader, in io.Reader) (string, error) {
	if f, ok := in.(*os.File); ok && isTerminal(f) {
		fd := int(f.Fd())
		old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		if err == nil {
			noEcho := *old
			noEcho.Lflag &^= unix.ECHO
			noEcho.Lflag |= unix.ICANON | unix.ISIG
			if err := unix.IoctlSetTermios(fd, unix.TCSETS, &noEcho); err == nil {
				defer func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }()
			}
		}
	}
	line, err := r.ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
