package connector

import (
	"strings"
	"testing"
	"time"

	"github.com/gcpconn/gcpconn/shared/configschema"
)

func TestLifetimeAt(t *testing.T) {
	conn := func(m AuthMethod, expSeconds int, expiresIn time.Duration) *Connector {
		c := &Connector{Name: "c", AuthMethod: m, ExpirationSeconds: expSeconds}
		if expiresIn != 0 {
			c.ExpiresAt = rulesNow.Add(expiresIn)
		}
		return c
	}
	tests := []struct {
		name        string
		c           *Connector
		requested   int
		wantApplied time.Duration
		wantReason  string // substring; "" means no reason
	}{
		{"impersonation default", conn(configschema.Impersonation, 0, 0), 0, time.Hour, "no lifetime requested: the impersonation default of 1h0m0s"},
		{"impersonation shorter", conn(configschema.Impersonation, 0, 0), 900, 15 * time.Minute, ""},
		{"impersonation exactly max", conn(configschema.Impersonation, 0, 0), 3600, time.Hour, ""},
		{"impersonation exactly min", conn(configschema.Impersonation, 0, 0), 600, 10 * time.Minute, ""},
		{"impersonation below min", conn(configschema.Impersonation, 0, 0), 60, 10 * time.Minute, "impersonation tokens last at least 10m0s"},
		{"impersonation above max", conn(configschema.Impersonation, 0, 0), 43200, time.Hour, "impersonation tokens last at most 1h0m0s"},
		{"a year", conn(configschema.Impersonation, 0, 0), maxRequestSeconds, time.Hour, "at most 1h0m0s"},
		{"connector default", conn(configschema.Impersonation, 1200, 0), 0, 20 * time.Minute, "the connector's expiration_seconds of 20m0s"},
		{"request beats connector default", conn(configschema.Impersonation, 1200, 0), 1800, 30 * time.Minute, ""},
		{"service account shorter", conn(configschema.ServiceAccount, 0, 0), 1800, 30 * time.Minute, ""},
		{"service account above max", conn(configschema.ServiceAccount, 0, 0), 7200, time.Hour, "service-account tokens last at most 1h0m0s"},
		{"user account fixed", conn(configschema.UserAccount, 0, 0), 600, time.Hour, "user-account tokens come from a refresh grant, which Google issues for 1h0m0s"},
		{"user account default", conn(configschema.UserAccount, 0, 0), 0, time.Hour, "no lifetime requested: user-account tokens always last 1h0m0s"},
		{"user account as requested", conn(configschema.UserAccount, 0, 0), 3600, time.Hour, ""},
		{"implicit fixed", conn(configschema.Implicit, 0, 0), 900, time.Hour, "implicit tokens come from the service's own credentials"},
		{"external account fixed", conn(configschema.ExternalAccount, 0, 0), 7200, time.Hour, "external-account tokens come from an STS exchange"},
		{"oauth2 token default", conn(configschema.OAuth2Token, 0, 40*time.Minute), 0, 40 * time.Minute, "hand out their stored token as is; it expires at 2026-11-22T03:40:00Z, in 40m0s"},
		{"oauth2 token shorter request", conn(configschema.OAuth2Token, 0, 40*time.Minute), 600, 40 * time.Minute, "it expires at"},
		{"oauth2 token matching request", conn(configschema.OAuth2Token, 0, 40*time.Minute), 2400, 40 * time.Minute, ""},
		{"oauth2 token sub-second expiry", conn(configschema.OAuth2Token, 0, 40*time.Minute+300*time.Millisecond), 0, 40 * time.Minute, "in 40m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lt, err := tt.c.lifetimeAt(tt.requested, rulesNow)
			if err != nil {
				t.Fatalf("lifetimeAt(%d) = %v; want no error", tt.requested, err)
			}
			if lt.Applied != tt.wantApplied {
				t.Errorf("lifetimeAt(%d).Applied = %s; want %s", tt.requested, lt.Applied, tt.wantApplied)
			}
			if lt.Requested != time.Duration(tt.requested)*time.Second {
				t.Errorf("lifetimeAt(%d).Requested = %s; want %ds", tt.requested, lt.Requested, tt.requested)
			}
			if (tt.wantReason == "") != (lt.Reason == "") || !strings.Contains(lt.Reason, tt.wantReason) {
				t.Errorf("lifetimeAt(%d).Reason = %q; want %q", tt.requested, lt.Reason, tt.wantReason)
			}
			if lt.Reason == "" && lt.Requested != lt.Applied {
				t.Errorf("lifetimeAt(%d) applied %s without a reason", tt.requested, lt.Applied)
			}
		})
	}
}

func TestLifetimeAtRefuses(t *testing.T) {
	tests := []struct {
		name      string
		c         *Connector
		requested int
		wantKind  Kind
		wantMsg   string
	}{
		{"negative", &Connector{AuthMethod: configschema.Impersonation}, -1, ErrInvalid, "lifetime_seconds must be 0 (the default) or a positive number of seconds; got -1"},
		// Refused with the number sent, not answered with a "requested" lifetime nobody sent.
		{"above a year", &Connector{AuthMethod: configschema.Impersonation}, 9223372036854775807, ErrInvalid, "at most 31622400 (a year; anything above the auth method's maximum is lowered to it); got 9223372036854775807"},
		{"token expired", &Connector{Name: "tmp", AuthMethod: configschema.OAuth2Token, ExpiresAt: rulesNow.Add(-time.Second)}, 0, ErrFailedPrecondition,
			`the oauth2 token of connector "tmp" expired at 2026-11-22T02:59:59Z; update the connector with a fresh token`},
		{"token nearly expired", &Connector{Name: "tmp", AuthMethod: configschema.OAuth2Token, ExpiresAt: rulesNow.Add(4*time.Minute + 59*time.Second)}, 0, ErrFailedPrecondition,
			"in 4m59s; tokens with less than 5m0s left are not handed out"},
		{"token without expiry", &Connector{Name: "tmp", AuthMethod: configschema.OAuth2Token}, 0, ErrFailedPrecondition, "has no expires_at"},
		{"unknown method", &Connector{Name: "tmp", AuthMethod: "magic"}, 0, ErrInternal, `unknown auth method "magic"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.c.lifetimeAt(tt.requested, rulesNow)
			if KindOf(err) != tt.wantKind || !strings.Contains(MessageOf(err), tt.wantMsg) {
				t.Errorf("lifetimeAt(%d) = %v (%s); want %s containing %q", tt.requested, err, KindOf(err), tt.wantKind, tt.wantMsg)
			}
		})
	}
	// Exactly MinTokenRemaining left is still served.
	c := &Connector{AuthMethod: configschema.OAuth2Token, ExpiresAt: rulesNow.Add(MinTokenRemaining)}
	if lt, err := c.lifetimeAt(0, rulesNow); err != nil || lt.Applied != MinTokenRemaining {
		t.Errorf("lifetimeAt(0) with exactly %s left = %v, %v; want %s", MinTokenRemaining, lt.Applied, err, MinTokenRemaining)
	}
}
