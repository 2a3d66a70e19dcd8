// Command pushauth stands in for the OIDC token Pub/Sub puts on a push subscription's requests,
// which the Pub/Sub emulator does not: the emulator pushes to pushauth, which forwards each
// request to -target with "Authorization: Bearer <ID token>", the token minted for -email and
// -audience by the fake's admin API (-token-url, POST {"email","audience"} -> {"id_token"}),
// and answers with the target's status and body, so that Pub/Sub acknowledges or delivers again
// as it would deployed. scripts/dev.sh runs it in front of the sweep worker.
//
//	pushauth -listen 127.0.0.1:0 -target http://127.0.0.1:8080/sweep-shard \
//	    -token-url http://127.0.0.1:PORT/admin/id-token -email admin@example.com -audience http://127.0.0.1:8080
//
// Once listening it prints "listening http://HOST:PORT" on stdout. Only loopback addresses.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "loopback address to listen on")
	r := &relay{}
	flag.StringVar(&r.target, "target", "", "URL the pushes are forwarded to")
	flag.StringVar(&r.tokenURL, "token-url", "", "the fake's admin id-token endpoint")
	flag.StringVar(&r.email, "email", "", "whose ID token the forwarded requests carry (the push identity)")
	flag.StringVar(&r.audience, "audience", "", "the ID token's audience")
	flag.Parse()
	if r.target == "" || r.tokenURL == "" || r.email == "" || r.audience == "" {
		fmt.Fprintln(os.Stderr, "pushauth: -target, -token-url, -email and -audience are required")
		os.Exit(2)
	}
	host, _, err := net.SplitHostPort(*listen)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintf(os.Stderr, "pushauth: -listen %q is not a loopback address\n", *listen)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pushauth:", err)
		os.Exit(1)
	}
	fmt.Printf("listening http://%s\n", ln.Addr())
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "pushauth:", err)
		os.Exit(1)
	}
}

// relay forwards pushes with an ID token.
type relay struct {
	target, tokenURL, email, audience string
	client                            http.Client
}

func (r *relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 10<<20))
	if err != nil {
		http.Error(w, "pushauth: read the push: "+err.Error(), http.StatusBadRequest)
		return
	}
	tok, err := r.token(req)
	if err != nil {
		http.Error(w, "pushauth: "+err.Error(), http.StatusBadGateway)
		return
	}
	out, err := http.NewRequestWithContext(req.Context(), http.MethodPost, r.target, bytes.NewReader(body))
	if err != nil {
		http.Error(w, "pushauth: "+err.Error(), http.StatusInternalServerError)
		return
	}
	out.Header.Set("Content-Type", "application/json")
	out.Header.Set("Authorization", "Bearer "+tok)
	resp, err := r.client.Do(out)
	if err != nil {
		http.Error(w, "pushauth: forward: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// token mints an ID token for the push identity (a fresh one per push: they are cheap, and
// never expire mid-session).
func (r *relay) token(req *http.Request) (string, error) {
	in, _ := json.Marshal(map[string]string{"email": r.email, "audience": r.audience})
	treq, err := http.NewRequestWithContext(req.Context(), http.MethodPost, r.tokenURL, bytes.NewReader(in))
	if err != nil {
		return "", err
	}
	treq.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(treq)
	if err != nil {
		return "", fmt.Errorf("mint the push identity's token: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		IDToken string `json:"id_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.IDToken == "" {
		return "", fmt.Errorf("mint the push identity's token: status %d", resp.StatusCode)
	}
	return out.IDToken, nil
}
