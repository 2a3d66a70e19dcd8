package world

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
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
	Created  time.Time // validAfterTime
	Disabled bool      // a disabled key signs nothing the token endpoint accepts
	// warmUntil: before it, the key signs nothing the token endpoint accepts (SetKeyWarmup).
	warmUntil time.Time
}

// MaxKeysPerAccount is Google's limit of user-managed keys per service account.
const MaxKeysPerAccount = 10

// ErrKeyLimit is returned by CreateKey when the account already has MaxKeysPerAccount keys.
var ErrKeyLimit = errors.New("the service account has reached its limit of 10 keys")

// SetClock sets the clock that dates new keys (time.Now by default).
func (w *World) SetClock(now func() time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.clock = now
}

func (w *World) nowLocked() time.Time {
	if w.clock != nil {
		return w.clock()
	}
	return time.Now()
}

// SetKeyWarmup makes keys created from now on (CreateKey) sign nothing the token endpoint
// accepts until d has passed on the world's clock, as Google's new keys can take a minute or
// more to work everywhere; 0 (the default) makes them work at once.
func (w *World) SetKeyWarmup(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.warmup = d
}

// newKey generates an RSA key with a fresh 40-hex-digit id.
func newKey(email string) (*Key, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate key for %q: %w", email, err)
	}
	id := make([]byte, 20)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("generate key id: %w", err)
	}
	return &Key{ID: hex.EncodeToString(id), ClientID: UniqueID(email), Private: priv}, nil
}

// Key returns the service account's first key, generating it on first use. It is the key of
// the credential files the fake hands out (KeyJSON), and signJwt/signBlob sign with it (as
// Google signs with a key it manages). Deleting or disabling it through the keys API stops
// it from minting tokens; Key still returns it.
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
	k, err := newKey(sa.Email)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if first, ok := w.keys[sa.Email]; ok {
		return first, nil
	}
	k.Created = w.nowLocked()
	if w.keys == nil {
		w.keys, w.saKeys = map[string]*Key{}, map[string][]*Key{}
	}
	w.keys[sa.Email] = k
	w.saKeys[sa.Email] = append([]*Key{k}, w.saKeys[sa.Email]...)
	return k, nil
}

// CreateKey adds a new key to the account, as the IAM API's keys.create does. An account
// that already has MaxKeysPerAccount keys gets ErrKeyLimit.
func (w *World) CreateKey(email string) (*Key, error) {
	first, err := w.Key(email) // the first key always exists before any created one
	if err != nil {
		return nil, err
	}
	k, err := newKey(email)
	if err != nil {
		return nil, err
	}
	sa, _ := w.FindServiceAccount(email)
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.saKeys[sa.Email]) >= MaxKeysPerAccount {
		return nil, ErrKeyLimit
	}
	k.ClientID = first.ClientID
	k.Created = w.nowLocked()
	k.warmUntil = k.Created.Add(w.warmup)
	w.saKeys[sa.Email] = append(w.saKeys[sa.Email], k)
	return k, nil
}

// Keys returns copies of the account's live keys, oldest first (the first key included).
func (w *World) Keys(email string) ([]Key, error) {
	sa, ok := w.FindServiceAccount(email)
	if !ok {
		return nil, fmt.Errorf("keys of %q: no such service account", email)
	}
	if _, err := w.Key(sa.Email); err != nil {
		return nil, err
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	out := make([]Key, 0, len(w.saKeys[sa.Email]))
	for _, k := range w.saKeys[sa.Email] {
		out = append(out, *k)
	}
	return out, nil
}

// FindKey returns a copy of the account's live key id.
func (w *World) FindKey(email, id string) (Key, bool) {
	keys, err := w.Keys(email)
	if err != nil {
		return Key{}, false
	}
	for _, k := range keys {
		if k.ID == id {
			return k, true
		}
	}
	return Key{}, false
}

// DeleteKey deletes the account's key id; it reports whether the key existed. A deleted
// key stops minting tokens at once.
func (w *World) DeleteKey(email, id string) bool {
	sa, ok := w.FindServiceAccount(email)
	if !ok {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	keys := w.saKeys[sa.Email]
	for i, k := range keys {
		if k.ID == id {
			w.saKeys[sa.Email] = append(keys[:i:i], keys[i+1:]...)
			return true
		}
	}
	return false
}

// SetKeyDisabled disables or enables the account's key id; it reports whether the key
// exists.
func (w *World) SetKeyDisabled(email, id string, disabled bool) bool {
	sa, ok := w.FindServiceAccount(email)
	if !ok {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, k := range w.saKeys[sa.Email] {
		if k.ID == id {
			k.Disabled = disabled
			return true
		}
	}
	return false
}

// SigningKey is a live, enabled key's id with its public half.
type SigningKey struct {
	ID     string // private_key_id, the JWT "kid"
	Public *rsa.PublicKey
}

// SigningKeys returns the keys that may sign a JWT-bearer assertion of the account with key
// id kid: the live, enabled key with that id, or, without a kid, every live enabled key. A
// deleted or disabled key, or one still warming up (SetKeyWarmup), is never among them.
func (w *World) SigningKeys(email, kid string) []SigningKey {
	sa, ok := w.FindServiceAccount(email)
	if !ok {
		return nil
	}
	if _, err := w.Key(sa.Email); err != nil {
		return nil
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	now := w.nowLocked()
	var out []SigningKey
	for _, k := range w.saKeys[sa.Email] {
		if !k.Disabled && !now.Before(k.warmUntil) && (kid == "" || k.ID == kid) {
			out = append(out, SigningKey{ID: k.ID, Public: &k.Private.PublicKey})
		}
	}
	return out
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

// KeyJSON returns a service_account key file for email's first key, as the IAM API would
// download it.
func (w *World) KeyJSON(email string) ([]byte, error) {
	k, err := w.Key(email)
	if err != nil {
		return nil, err
	}
	return w.KeyFileJSON(email, k)
}

// KeyFileJSON returns the service_account key file of one of email's keys: what the IAM
// API's keys.create returns (base64) in privateKeyData.
func (w *World) KeyFileJSON(email string, k *Key) ([]byte, error) {
	sa, ok := w.FindServiceAccount(email)
	if !ok {
		return nil, fmt.Errorf("key file for %q: no such service account", email)
	}
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
