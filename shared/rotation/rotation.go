// Package rotation holds a connector's key-rotation state and its rules: the words the core
// (shared/connector), background work (shared/upkeep), the stores and the HTTP edge share when
// they speak of a rotation. It imports nothing of gcpconn; the core keeps the State on each
// connector and shared/upkeep does the rotating (the IAM keys API, verification, pin, cleanup)
// and writes what it does here.
//
// # Vocabulary
//
// A connector that holds a service-account key may have gcpconn replace the key on a
// schedule: every State.Period, counted from when the pinned key was created
// (State.KeyCreatedAt); [State.Due] says when the next replacement is due. A period of zero
// means rotation is off; otherwise it is 1 to 365 days ([CheckPeriod]), written "30d" or as a
// Go duration ("720h") on the wire ([ParsePeriod], [FormatPeriod]).
//
// A pending rotation ([Pending]) is the write-ahead entry of a rotation in flight, recorded
// on the connector before the IAM call and filled in as the rotation proceeds: "creating"
// while the key is created and stored, then "verifying" ([Verifying]) once the new secret
// version exists and waits to be verified and pinned. A rotation that fails releases the
// entry; what it created is left as a retired key ([Pending.Leftover]).
//
// A retired key ([RetiredKey]) is a key, and the secret version that held it, that a
// rotation or an update replaced, or that a failed rotation created: sweep deletes the key
// (when gcpconn created it) and destroys the version once its DeleteAfter has passed.
//
// A lost key ([LostKey]) is a key a failed rotation may have created without learning its
// id (the create call's answer never arrived): sweep looks for it among the account's keys,
// by creation time, once no late create can still land.
//
// The grace ([Grace]) is how long a replaced key stays: longer than any token minted from it
// plus the time other instances may still serve the old pin. The create-key budget
// ([CreateKeyBudget]) bounds the IAM call, which dates the window a lost key is searched in.
package rotation

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// State is a connector's key-rotation state. The zero value means rotation is off and
// nothing is in flight.
type State struct {
	Period       time.Duration // how often the key is replaced; 0 = not scheduled
	KeyID        string        // the pinned key's id (private_key_id); "" when unknown
	KeyCreatedAt time.Time     // when gcpconn created the pinned key, or stored it
	// KeyManaged is true when gcpconn created the pinned key (and so may delete it).
	KeyManaged bool
	// KeyTracked is true when every token minted from the pinned key was recorded
	// (the connector's Status.TokensUntil) since it was pinned: its retired record may then go
	// early.
	KeyTracked bool
	Generation int64 // rotations completed
	// Pending is the write-ahead entry of a rotation in flight; nil when none is.
	Pending *Pending
	// Retired are keys (and secret versions) that sweep removes once DeleteAfter has passed:
	// keys a rotation or an update replaced, and what a failed rotation created.
	Retired   []RetiredKey
	LastError string // why the last rotation failed; "" after a success
}

// Clone returns a deep copy of r.
func (r State) Clone() State {
	d := r
	d.Retired = slices.Clone(r.Retired)
	for i, k := range d.Retired {
		if k.Lost != nil {
			l := *k.Lost
			l.KnownKeys = slices.Clone(l.KnownKeys)
			d.Retired[i].Lost = &l
		}
	}
	if r.Pending != nil {
		p := *r.Pending
		p.KnownKeys = slices.Clone(r.Pending.KnownKeys)
		d.Pending = &p
	}
	return d
}

// Due is when the pinned key is due to be replaced; zero when rotation is off.
func (r State) Due() time.Time {
	if r.Period == 0 || r.KeyCreatedAt.IsZero() {
		return time.Time{}
	}
	return r.KeyCreatedAt.Add(r.Period)
}

// Pending is a pending rotation: recorded before the IAM call and filled in as the rotation
// proceeds.
type Pending struct {
	Generation  int64     // the generation this rotation will complete
	Claim       string    // random id of the claimant
	StartedAt   time.Time // just before the IAM call
	FromVersion string    // the secret version pinned when the rotation began
	KnownKeys   []string  // the account's key ids before the IAM call
	Email       string    // the service account the new key belongs to
	KeyID       string    // the new key, once created
	Version     string    // the new secret version, once added
	// VerifyBy is set with Version: the entry is then "verifying" and any later pass (rotate,
	// refresh, sweep) verifies the new key and pins it; a key that still does not work after
	// VerifyBy is deleted and the failure recorded.
	VerifyBy time.Time
}

// Pending rotation states (Pending.State).
const (
	creating  = "creating"  // the key is being created and stored
	Verifying = "verifying" // the key is stored and waits to be verified and pinned
)

// State is "creating" or Verifying.
func (p *Pending) State() string {
	if p.Version != "" && !p.VerifyBy.IsZero() {
		return Verifying
	}
	return creating
}

// Leftover is the retired record of what the released entry p created, due at now (a key
// whose id was never learnt, lost, once no late create can land); false when it created
// nothing.
func (p Pending) Leftover(lost bool, now time.Time) (RetiredKey, bool) {
	rk := RetiredKey{KeyID: p.KeyID, Version: p.Version, Email: p.Email, Managed: true, RetiredAt: now, DeleteAfter: now}
	if p.KeyID == "" && lost {
		to := p.StartedAt.Add(CreateKeyBudget + lateCreate)
		rk.Lost = &LostKey{From: p.StartedAt.Add(-keyClockSkew), To: to.Add(keyClockSkew), KnownKeys: slices.Clone(p.KnownKeys)}
		rk.DeleteAfter = to
	}
	return rk, rk.KeyID != "" || rk.Version != "" || rk.Lost != nil
}

// RetiredKey is a key (and secret version) that a rotation or an update replaced, or that a
// failed rotation created: sweep deletes it (and destroys the version) after DeleteAfter.
type RetiredKey struct {
	KeyID, Version string
	// Email is the service account the key belongs to; "" in records older than it (then
	// the account is read from Version's key file, or is the pinned key's).
	Email       string
	RetiredAt   time.Time // when it stopped being pinned (or was given up); zero when unknown
	DeleteAfter time.Time
	// Managed is true when gcpconn created the key; otherwise only the version is destroyed.
	Managed bool
	// TokensUntil, when TokensTracked, is when the last token minted from the key expires
	// (zero: none was minted); untracked, a token may live the longest lifetime gcpconn
	// mints (one hour) past RetiredAt.
	TokensUntil   time.Time
	TokensTracked bool
	// Lost is set for a key a failed rotation may have created without learning its id: sweep
	// looks for it among the account's keys once no late create can still land.
	Lost *LostKey
}

// LostKey says where to look for a key whose create call's answer never arrived: a key of
// the account that was not in KnownKeys, created between From and To, and that no connector
// records.
type LostKey struct {
	From, To  time.Time
	KnownKeys []string
}

// Rotation bounds.
const (
	// Grace is how long a replaced key stays: longer than any token minted from it (one hour
	// at most) plus the time other instances may still serve the old pin (the connector
	// cache's revocation window, the secret cache's five minutes).
	Grace = 2 * time.Hour
	// CreateKeyBudget bounds the IAM call, counted from the entry's StartedAt: a key created
	// by it is dated inside [StartedAt, StartedAt+CreateKeyBudget].
	CreateKeyBudget = 30 * time.Second
	// keyClockSkew widens that window for the difference between Google's clock and ours.
	keyClockSkew = 5 * time.Second
	// lateCreate is how long after the IAM call's own deadline Google may still create the
	// key of a call whose answer never arrived: the search for it waits that long.
	lateCreate = 2 * time.Minute
)

// Period bounds: a schedule replaces the key at most daily and at least yearly.
const (
	minPeriod = 24 * time.Hour
	maxPeriod = 365 * 24 * time.Hour
)

// CheckPeriod checks a rotation period: 0 (off) or 1 to 365 days. Its error says what is
// accepted; the core reports it as the request field rotation_period.
func CheckPeriod(d time.Duration) error {
	if d == 0 || (d >= minPeriod && d <= maxPeriod) {
		return nil
	}
	return fmt.Errorf("rotation_period %s is out of range: give 1d to 365d (or 24h to 8760h), or \"\" for no rotation", FormatPeriod(d))
}

// ParsePeriod parses the wire form of rotation_period: "Nd" (days) or a Go duration
// ("720h"); "" means no rotation. The bounds are CheckPeriod's.
func ParsePeriod(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 10000 {
			return 0, fmt.Errorf("rotation_period %q is not a number of days such as \"30d\"", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d < 0 {
			return 0, fmt.Errorf("rotation_period %q is not a duration: give days (\"30d\") or hours (\"720h\")", s)
		}
	}
	if d == 0 {
		return 0, fmt.Errorf("rotation_period %q is zero: give 1d to 365d, or \"\" for no rotation", s)
	}
	return d, CheckPeriod(d)
}

// FormatPeriod renders a rotation period as the wire's rotation_period reads it: "30d" for
// whole days, else a Go duration ("36h0m0s").
func FormatPeriod(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}
