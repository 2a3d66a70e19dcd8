package cloudlog

import (
	"cmp"
	"sync"
	"time"
)

// Sampler bounds the lines of a log event that callers can cause at will (a refused token, an
// unauthenticated request): at most PerMinute lines per key each minute, where a key names a
// kind of event (an issuer, an error code). The first line allowed after some were left out
// says how many (the "suppressed" attribute by convention), so nothing is lost silently. Its
// zero value allows DefaultSamplesPerMinute; it is safe for concurrent use. Keys should be
// few: past maxSampledKeys the windows are forgotten.
type Sampler struct {
	PerMinute int // 0 means DefaultSamplesPerMinute

	mu      sync.Mutex
	windows map[string]*sampleWindow
}

type sampleWindow struct {
	start      time.Time
	n          int // allowed in this window
	suppressed int // not allowed since the last allowed one
}

// DefaultSamplesPerMinute is a Sampler's limit when PerMinute is 0.
const DefaultSamplesPerMinute = 60

const maxSampledKeys = 1000

// Allow reports whether one more line of key may be written at now, and how many were left
// out since the last one that was.
func (s *Sampler) Allow(key string, now time.Time) (ok bool, suppressed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.windows[key]
	if w == nil {
		if s.windows == nil || len(s.windows) >= maxSampledKeys {
			s.windows = map[string]*sampleWindow{}
		}
		w = &sampleWindow{start: now}
		s.windows[key] = w
	}
	if d := now.Sub(w.start); d >= time.Minute || d < 0 {
		w.start, w.n = now, 0
	}
	if w.n >= cmp.Or(s.PerMinute, DefaultSamplesPerMinute) {
		w.suppressed++
		return false, 0
	}
	w.n++
	n := w.suppressed
	w.suppressed = 0
	return true, n
}
