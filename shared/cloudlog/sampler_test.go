package cloudlog

import (
	"testing"
	"time"
)

func TestSampler(t *testing.T) {
	s := &Sampler{PerMinute: 2}
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		key        string
		at         time.Duration
		ok         bool
		suppressed int
	}{
		{"a", 0, true, 0}, {"a", time.Second, true, 0}, {"a", 2 * time.Second, false, 0},
		{"a", 3 * time.Second, false, 0}, {"b", 3 * time.Second, true, 0},
		{"a", time.Minute, true, 2}, {"a", time.Minute + time.Second, true, 0},
	}
	for i, st := range steps {
		ok, n := s.Allow(st.key, t0.Add(st.at))
		if ok != st.ok || n != st.suppressed {
			t.Errorf("step %d (%s at %s): Allow = %v, %d; want %v, %d", i, st.key, st.at, ok, n, st.ok, st.suppressed)
		}
	}
}

func TestSamplerZeroValueUsesTheDefault(t *testing.T) {
	var s Sampler
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	n := 0
	for range DefaultSamplesPerMinute + 5 {
		if ok, _ := s.Allow("k", now); ok {
			n++
		}
	}
	if n != DefaultSamplesPerMinute {
		t.Errorf("zero Sampler allowed %d in a minute; want %d", n, DefaultSamplesPerMinute)
	}
}
