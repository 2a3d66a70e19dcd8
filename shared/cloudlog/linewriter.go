package cloudlog

import (
	"io"
	"sync"
	"time"
)

// LineWriter passes whole log lines to an underlying writer (stdout) in batches: a Write
// appends its line to a pending buffer and returns; a goroutine writes everything pending
// with one call. A line written when the goroutine is idle goes out at once; after each
// batch the goroutine rests BatchDelay, so under load the lines of that moment go out
// together, one system call (and one wake-up of the goroutine) for many lines, and no line
// waits longer than a batch write and BatchDelay. Lines are never split or interleaved: each
// Write's bytes are appended whole, and batches are written one at a time.
//
// Flush waits until every line written before it is out; Close flushes and stops the
// goroutine (later writes go straight through). A process must Flush or Close before it
// exits, or it loses the lines of its last moments (functions/cmd/serve does on shutdown).
// When the underlying writer falls behind by maxPending bytes, Write waits.
type LineWriter struct {
	w       io.Writer
	mu      sync.Mutex
	written *sync.Cond // broadcast when a batch is out
	pending []byte     // lines not yet handed to w
	spare   []byte     // the previous batch's buffer, reused
	busy    bool       // a batch is being written
	closed  bool
	err     error // the first error of w
	kick    chan struct{}
	stopped chan struct{}
}

// maxPending bounds the bytes waiting to be written before Write waits.
const maxPending = 1 << 20

// BatchDelay is how long the writing goroutine rests after a batch before it takes the next:
// the longest a line waits for the lines written after it.
const BatchDelay = time.Millisecond

// NewLineWriter returns a LineWriter over w and starts its goroutine.
func NewLineWriter(w io.Writer) *LineWriter {
	lw := &LineWriter{w: w, kick: make(chan struct{}, 1), stopped: make(chan struct{})}
	lw.written = sync.NewCond(&lw.mu)
	go lw.run()
	return lw
}

// Write queues p, which should be whole lines, and returns len(p), nil. After Close it
// writes p to the underlying writer itself.
func (lw *LineWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	if lw.closed {
		lw.mu.Unlock()
		return lw.w.Write(p)
	}
	for len(lw.pending) > 0 && len(lw.pending)+len(p) > maxPending {
		lw.written.Wait()
	}
	lw.pending = append(lw.pending, p...)
	select { // under mu: Close cannot have closed kick
	case lw.kick <- struct{}{}:
	default: // a kick is already waiting
	}
	lw.mu.Unlock()
	return len(p), nil
}

// run writes what is pending each time it is kicked, until Close.
func (lw *LineWriter) run() {
	defer close(lw.stopped)
	for range lw.kick {
		lw.mu.Lock()
		for len(lw.pending) > 0 {
			batch := lw.pending
			lw.pending, lw.busy = lw.spare[:0], true
			lw.mu.Unlock()
			_, err := lw.w.Write(batch)
			lw.mu.Lock()
			if err != nil && lw.err == nil {
				lw.err = err
			}
			lw.spare, lw.busy = batch[:0], false
			if cap(lw.spare) > maxPending {
				lw.spare = nil // one burst does not keep a large buffer
			}
			lw.written.Broadcast()
			if !lw.closed {
				lw.mu.Unlock()
				time.Sleep(BatchDelay) // let the lines of this moment gather
				lw.mu.Lock()
			}
		}
		lw.mu.Unlock()
	}
}

// Flush waits until every line written before it has been handed to the underlying
// writer, and returns the first error the writer returned, if any.
func (lw *LineWriter) Flush() error {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	for len(lw.pending) > 0 || lw.busy {
		select {
		case lw.kick <- struct{}{}:
		default:
		}
		lw.written.Wait()
	}
	return lw.err
}

// Close flushes and stops the goroutine; later writes go straight to the underlying writer.
func (lw *LineWriter) Close() error {
	err := lw.Flush()
	lw.mu.Lock()
	if !lw.closed {
		lw.closed = true
		close(lw.kick)
	}
	lw.mu.Unlock()
	<-lw.stopped
	return err
}
