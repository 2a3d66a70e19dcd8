package world

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// GoogleTokenURI is the token_uri written into key files. It is Google's own URL on
// purpose: gcpconn accepts only Google URLs in credential JSON and takes the real
// endpoint from its configuration (GCPCONN_ENDPOINT_OAUTH2).
const GoogleTokenURI = "https://oauth2.googleapis.com/token"

// Key is a service account's RSA key pair with its Google-style identifiers.
type Key struct {
	ID       string // private_key_id, also the JWT "kid"
	ClientID string // the account's numeric unique id
	Private  *rsa.PrivateKey
}

// Key returns the service account's key, generating it on first use.
func (w *World) Key(email string) (*Key, error) {
	sa, ok := w.FindServiceAccount(email)
	if !ok {
		return nil, fmt.Errorf("key for %q: no such service account", email)
	}
	w.mu.RLock()
	k, ok := w.keys[sa.Email]
	w.mu.RUnlock()
	if ok {
		return k, nil
	}
	// Generate outside the lock (it takes a while); the first key stored wins.
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate key for %q: %w", sa.Email, err)
	}
	id := make([]byte, 20)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("generate key id: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if k, ok := w.keys[sa.Email]; ok {
		return k, nil
	}
	k = &Key{ID: hex.EncodeToString(id), ClientID: UniqueID(sa.Email), Private: priv}
	if w.keys == nil {
		w.keys = map[string]*Key{}
	}
	w.keys[sa.Email] = k
	return k, nil
}

// UniqueID returns the stable 21-digit numeric id Google would give the account.
func UniqueID(email string) string {
	var h1, h2 uint64 = 14695981039346656037, 1099511628211
	for i := 0; i < len(email); i++ {
		h1 = (h1 ^ uint64(email[i])) * 1099511628211
		h2 = (h2 ^ uint64(email[i])) * 14695981039346656037
	}
	n := new(big.Int).SetUint64(h1)
	n.Lsh(n, 64).Or(n, new(big.Int).SetUint64(h2))
	n.Mod(n, big.NewInt(0).Exp(big.NewInt(10), big.NewInt(20), nil))
	digits := n.String()
	return "1" + strings.Repeat("0", 20-len(digits)) + digits
}

// KeyJSON returns a service_account key file for email, as the IAM API would download it.
func (w *World) KeyJSON(email string) ([]byte, error) {
	k, err := w.Key(email)
	if err != nil {
		return nil, err
	}
	sa, _ := w.FindServiceAccount(email)
	der, err := x509.MarshalPKCS8PrivateKey(k.Private)
	if err != nil {
		return nil, fmt.Errorf("marshal key for %q: %w", email, err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	return json.MarshalIndent(map[string]string{
		"type":                        "service_account",
		"project_id":                  sa.Project,
		"private_key_id":              k.ID,
		"private_key":                 string(pemKey),
		"client_email":                sa.Email,
		"client_id":                   k.ClientID,
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   GoogleTokenURI,
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"client_x509_cert_url":        "https://www.googleapis.com/robot/v1/metadata/x509/" + url.PathEscape(sa.Email),
		"universe_domain":             "googleapis.com",
	}, "", "  ")
}

// UserJSON returns an authorized_user credential file for a user, as gcloud writes it.
func (w *World) UserJSON(email string) ([]byte, error) {
	u, ok := w.FindUser(email)
	if !ok {
		return nil, fmt.Errorf("user json for %q: no such user", email)
	}
	return json.MarshalIndent(map[string]string{
		"type":            "authorized_user",
		"client_id":       u.ClientID,
		"client_secret":   u.ClientSecret,
		"refresh_token":   u.RefreshToken,
		"token_uri":       GoogleTokenURI,
		"universe_domain": "googleapis.com",
		"account":         u.Email,
	}, "", "  ")
}

// CredentialJSON returns KeyJSON for a service account and UserJSON for a user.
func (w *World) CredentialJSON(email string) ([]byte, error) {
	if _, ok := w.FindServiceAccount(email); ok {
		return w.KeyJSON(email)
	}
	return w.UserJSON(email)
}

// WriteKeyFiles writes one credential file per service account and user into dir
// (mode 0600, named EMAIL.json) and returns the paths by email.
func (w *World) WriteKeyFiles(dir string) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keys dir: %w", err)
	}
	var emails []string
	w.View(func(w *World) {
		for _, sa := range w.ServiceAccounts {
			emails = append(emails, sa.Email)
		}
		for _, u := range w.Users {
			emails = append(emails, u.Email)
		}
	})
	paths := map[string]string{}
	for _, e := range emails {
		b, err := w.CredentialJSON(e)
		if err != nil {
			return nil, err
		}
		p := filepath.Join(dir, e+".json")
		if err := os.WriteFile(p, append(b, '\n'), 0o600); err != nil {
			return nil, fmt.Errorf("write key file: %w", err)
		}
		paths[e] = p
	}
	return paths, nil
}
