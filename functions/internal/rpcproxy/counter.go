package rpcproxy

import (
	"strings"
	"sync"
)

// Counter counts calls by method name (the part after the last '/': BatchGetDocuments,
// Commit, RunQuery, ...). Its Add is what Start takes as count; the zero value is ready. It is
// safe for concurrent use.
type Counter struct {
	mu sync.Mutex
	n  map[string]int64
}

// Add counts one call of the full method name method.
func (c *Counter) Add(method string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int64{}
	}
	c.n[method[strings.LastIndexByte(method, '/')+1:]]++
}

// Take returns the calls counted since the last Take (or the start), and starts counting
// afresh.
func (c *Counter) Take() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int64{}
	return n
}

// Sum returns how many calls of the methods in names were counted since the last Take.
func (c *Counter) Sum(names map[string]bool) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for m, k := range c.n {
		if names[m] {
			n += k
		}
	}
	return n
}
