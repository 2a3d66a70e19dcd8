package tokens

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRegistry(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	r := NewRegistry(clock)
	v := r.Issue(Token{Member: "user:a@b.c", Email: "a@b.c", Scopes: []string{"s"}, Expiry: now.Add(time.Minute)})
	if !strings.HasPrefix(v, "ya29.fake.") {
		t.Errorf("Issue() = %q; want a ya29.fake. prefix", v)
	}
	if other := r.Issue(Token{Expiry: now.Add(time.Minute)}); other == v {
		t.Errorf("two Issue() calls returned the same value")
	}
	got, err := r.Lookup(v)
	if err != nil || got.Email != "a@b.c" || !got.HasScope("s") {
		t.Errorf("Lookup = %+v, %v; want the issued token", got, err)
	}
	got.Scopes[0] = "mutated"
	if again, _ := r.Lookup(v); again.Scopes[0] != "s" {
		t.Errorf("Lookup result aliases the registry's scopes")
	}
	if _, err := r.Lookup("ya29.fake.nope"); !errors.Is(err, ErrUnknown) {
		t.Errorf("Lookup(unknown) = %v; want ErrUnknown", err)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if _, err := r.Lookup(v); !errors.Is(err, ErrExpired) {
		t.Errorf("Lookup(at expiry) = %v; want ErrExpired", err)
	}
	if !r.Revoke(v) || r.Revoke(v) {
		t.Errorf("Revoke twice = want true then false")
	}
	if _, err := r.Lookup(v); !errors.Is(err, ErrUnknown) {
		t.Errorf("Lookup(revoked) = %v; want ErrUnknown", err)
	}
	if n := r.Issued(); n != 2 {
		t.Errorf("Issued() = %d; want 2", n)
	}
}

func TestEvalCondition(t *testing.T) {
	attrs := Attributes{
		"resource.name": "projects/_/buckets/b/objects/customer-a/x.txt",
		"resource.type": "storage.googleapis.com/Object",
		"api:storage.googleapis.com/objectListPrefix": "customer-a/",
	}
	tests := []struct {
		expr    string
		want    bool
		wantErr bool
	}{
		{"", true, false},
		{"resource.name.startsWith('projects/_/buckets/b/objects/customer-a/')", true, false},
		{`resource.name.startsWith("projects/_/buckets/b/objects/customer-b/")`, false, false},
		{"resource.name.endsWith('.txt') && resource.type == 'storage.googleapis.com/Object'", true, false},
		{"resource.type != 'storage.googleapis.com/Object' || resource.name.contains('customer-a')", true, false},
		{"!(resource.name.startsWith('x'))", true, false},
		{"api.getAttribute('storage.googleapis.com/objectListPrefix', '').startsWith('customer-a/')", true, false},
		{"api.getAttribute('other', 'dflt') == 'dflt'", true, false},
		{"true && false", false, false},
		{"request.time < timestamp('2030-01-01T00:00:00Z')", false, true},
		{"resource.name.matches('x')", false, true},
		{"resource.name.startsWith('unterminated)", false, true},
		{"resource.name", false, true},
		{"(resource.name.startsWith('p')", false, true},
		{"resource.name.startsWith('p') resource", false, true},
		{strings.Repeat("(", MaxConditionDepth) + "true" + strings.Repeat(")", MaxConditionDepth), true, false},
		{strings.Repeat("!", MaxConditionDepth) + "true", true, false},
		{strings.Repeat("(!", MaxConditionDepth/2) + "true" + strings.Repeat(")", MaxConditionDepth/2), true, false},
		{strings.Repeat("(", MaxConditionDepth+1) + "true" + strings.Repeat(")", MaxConditionDepth+1), false, true},
		{strings.Repeat("!", MaxConditionDepth+1) + "true", false, true},
		// Deep enough to overflow the stack without the bound (a fatal error, not a panic).
		{strings.Repeat("(", 1<<20) + "true" + strings.Repeat(")", 1<<20), false, true},
		{"(true) && (true) && (true)", true, false},
	}
	for _, tt := range tests {
		got, err := EvalCondition(tt.expr, attrs)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("EvalCondition(%q) = %v, %v; want %v, error %v", tt.expr, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzEvalCondition(f *testing.F) {
	f.Add("resource.name.startsWith('a') && !(api.getAttribute('x', '') == 'y')")
	f.Fuzz(func(t *testing.T, expr string) {
		_, _ = EvalCondition(expr, Attributes{"resource.name": "a"})
	})
}
