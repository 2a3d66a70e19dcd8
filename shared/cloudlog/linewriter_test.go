package cloudlog

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// gatedWriter records each Write; when gate is set, every Write waits for a value on it.
type gatedWriter struct {
	gate   chan struct{}
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	if w.gate != nil {
		<-w.gate
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.buf.Write(p)
}

func (w *gatedWriter) state() (string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String(), w.writes
}

// TestLineWriterKeepsLinesWholeAndInOrder: lines written concurrently by many goroutines
// all come out, whole, each goroutine's in its order, after Close.
func TestLineWriterKeepsLinesWholeAndInOrder(t *testing.T) {
	var out gatedWriter
	lw := NewLineWriter(&out)
	const writers, lines = 8, 500
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range lines {
				fmt.Fprintf(lw, "{\"g\":%d,\"i\":%d,\"pad\":%q}\n", g, i, strings.Repeat("x", i%97))
			}
		})
	}
	wg.Wait()
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	text, writes := out.state()
	next := make([]int, writers)
	n := 0
	for line := range strings.Lines(text) {
		var g, i int
		var pad string
		if _, err := fmt.Sscanf(line, "{\"g\":%d,\"i\":%d,\"pad\":%q}\n", &g, &i, &pad); err != nil || len(pad) != i%97 {
			t.Fatalf("line %d is not whole: %q (%v)", n, line, err)
		}
		if i != next[g] {
			t.Fatalf("writer %d: line %d came after %d", g, i, next[g]-1)
		}
		next[g]++
		n++
	}
	if n != writers*lines {
		t.Errorf("%d lines out; want %d", n, writers*lines)
	}
	t.Logf("%d lines in %d writes", n, writes)
}

// TestLineWriterBatchesWhileWriting: the lines written while a batch is being written go out
// together in one write, and Flush waits for them.
func TestLineWriterBatchesWhileWriting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &gatedWriter{gate: make(chan struct{})}
		lw := NewLineWriter(out)
		defer lw.Close()
		_, _ = lw.Write([]byte("first\n"))
		synctest.Wait() // the first batch is being written, held at the gate
		for i := range 100 {
			_, _ = fmt.Fprintf(lw, "line %d\n", i) // returns at once: nothing waits for the gate
		}
		flushed := false
		go func() {
			_ = lw.Flush()
			flushed = true
		}()
		synctest.Wait()
		if flushed {
			t.Fatal("Flush returned while lines were still waiting")
		}
		out.gate <- struct{}{} // the first batch
		out.gate <- struct{}{} // the 100 lines together
		synctest.Wait()
		text, writes := out.state()
		if !flushed || writes != 2 || strings.Count(text, "\n") != 101 {
			t.Errorf("flushed %v, %d writes of %d lines; want flushed, 2 writes of 101 lines", flushed, writes, strings.Count(text, "\n"))
		}
		close(out.gate)
	})
}

// TestLineWriterBackpressure: when the underlying writer is stuck and maxPending bytes wait,
// Write waits too, rather than growing the buffer without bound.
func TestLineWriterBackpressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &gatedWriter{gate: make(chan struct{})}
		lw := NewLineWriter(out)
		_, _ = lw.Write([]byte("first\n"))
		synctest.Wait()
		line := []byte(strings.Repeat("x", 1023) + "\n")
		for range maxPending / len(line) {
			_, _ = lw.Write(line)
		}
		returned := false
		go func() {
			_, _ = lw.Write(line)
			returned = true
		}()
		synctest.Wait()
		if returned {
			t.Fatal("Write returned with maxPending bytes waiting")
		}
		close(out.gate)
		time.Sleep(BatchDelay) // the writer rests after the first batch
		synctest.Wait()
		if !returned {
			t.Error("Write still waits after the writer caught up")
		}
		if err := lw.Close(); err != nil {
			t.Fatal(err)
		}
		if _, writes := out.state(); writes > 3 {
			t.Errorf("%d writes; want the first line, then the rest in at most two batches", writes)
		}
	})
}

// TestLineWriterGathersLinesForBatchDelay: a line written to an idle writer goes out at once;
// the lines written in the BatchDelay after a batch go out together when it ends, not one by
// one.
func TestLineWriterGathersLinesForBatchDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out gatedWriter
		lw := NewLineWriter(&out)
		defer lw.Close()
		_, _ = lw.Write([]byte("first\n"))
		synctest.Wait()
		if _, writes := out.state(); writes != 1 {
			t.Fatalf("%d writes after a line to an idle writer; want 1 at once", writes)
		}
		for i := range 50 {
			_, _ = fmt.Fprintf(lw, "line %d\n", i)
			time.Sleep(BatchDelay / 100)
		}
		synctest.Wait()
		if _, writes := out.state(); writes != 1 {
			t.Fatalf("%d writes within BatchDelay of the first batch; want still 1", writes)
		}
		time.Sleep(BatchDelay)
		synctest.Wait()
		text, writes := out.state()
		if writes != 2 || strings.Count(text, "\n") != 51 {
			t.Errorf("%d writes of %d lines after BatchDelay; want 2 writes of 51", writes, strings.Count(text, "\n"))
		}
	})
}
