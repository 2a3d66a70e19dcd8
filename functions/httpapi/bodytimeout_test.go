package httpapi

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcpconn/gcpconn/shared/connector"
	"github.com/gcpconn/gcpconn/shared/store"
)

// pipeListener hands out one in-memory connection, then blocks until closed.
type pipeListener struct {
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func newPipeListener() (*pipeListener, net.Conn) {
	srv, cli := net.Pipe()
	l := &pipeListener{conns: make(chan net.Conn, 1), done: make(chan struct{})}
	l.conns <- srv
	return l, cli
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// bearerOnly takes any bearer token as owner's: these tests are about the transport, and the
// real verifier fetches its keys over the network, which a synctest bubble cannot wait for.
type bearerOnly struct{}

func (bearerOnly) Authenticate(r *http.Request) (connector.Principal, error) {
	if r.Header.Get("Authorization") == "" {
		return connector.Principal{}, connector.Errorf(connector.ErrUnauthenticated, "no token")
	}
	return connector.Principal{Email: owner}, nil
}

// TestSlowBodyIsCutOff: a body that drips in a byte a second is answered 408 once the body
// timeout has passed (on the bubble's clock), not read for as long as the caller keeps
// dripping.
func TestSlowBodyIsCutOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &connector.Service{Store: store.NewMemory(), Secrets: store.NewMemorySecrets()}
		api := &API{
			Service:        func(context.Context) (*connector.Service, error) { return svc, nil },
			Auth:           bearerOnly{},
			BodyTimeout:    20 * time.Second,
			RequestTimeout: time.Hour,
		}
		ln, cli := newPipeListener()
		srv := &http.Server{Handler: api.Handler()}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		defer cli.Close()

		start := time.Now()
		tok := "t"
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			fmt.Fprintf(cli, "POST /mint-token HTTP/1.1\r\nHost: gcpconn\r\nAuthorization: Bearer %s\r\n"+
				"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", tok)
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Second):
				}
				if _, err := cli.Write([]byte(" ")); err != nil {
					return
				}
			}
		}()
		resp, err := http.ReadResponse(bufio.NewReader(cli), nil)
		if err != nil {
			t.Fatalf("read response: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Errorf("status = %d; want 408", resp.StatusCode)
		}
		if waited := time.Since(start); waited != api.BodyTimeout {
			t.Errorf("answered after %s; want exactly the body timeout %s", waited, api.BodyTimeout)
		}
	})
}

// TestBodyTimeoutNeverPastTheDeadline: the body read stops at the request's deadline when
// that comes before the body timeout.
func TestBodyTimeoutNeverPastTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &connector.Service{Store: store.NewMemory(), Secrets: store.NewMemorySecrets()}
		api := &API{
			Service:        func(context.Context) (*connector.Service, error) { return svc, nil },
			Auth:           bearerOnly{},
			RequestTimeout: 5 * time.Second,
		}
		ln, cli := newPipeListener()
		srv := &http.Server{Handler: api.Handler()}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		defer cli.Close()
		start := time.Now()
		tok := "t"
		go fmt.Fprintf(cli, "POST /verify HTTP/1.1\r\nHost: gcpconn\r\nAuthorization: Bearer %s\r\nContent-Length: 10\r\n\r\n{", tok)
		resp, err := http.ReadResponse(bufio.NewReader(cli), nil)
		if err != nil {
			t.Fatalf("read response: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout || time.Since(start) != api.RequestTimeout {
			t.Errorf("status %d after %s; want 408 after the request timeout %s", resp.StatusCode, time.Since(start), api.RequestTimeout)
		}
	})
}
