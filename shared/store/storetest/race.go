package storetest

import (
	"sync"
	"testing"

	"github.com/gcpconn/gcpconn/shared/connector"
)

// ExactlyOneWins runs op(0) … op(n-1) at once and fails t unless exactly one of them returns
// nil and every other one fails with an error of kind loser (ErrConflict for writes
// conditioned on one revision, ErrAlreadyExists for creates of one name). It returns the index
// of the winner (-1 if there was none). what names the operation in failures ("concurrent
// updates from one revision").
func ExactlyOneWins(t testing.TB, what string, n int, loser connector.Kind, op func(i int) error) int {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = op(i) })
	}
	wg.Wait()
	wins, winner := 0, -1
	for i, err := range errs {
		switch connector.KindOf(err) {
		case "":
			wins++
			winner = i
		case loser:
		default:
			t.Errorf("%s: #%d = %v; want nil or %s", what, i, err, loser)
		}
	}
	if wins != 1 {
		t.Fatalf("%d %s: %d succeeded; want exactly 1", n, what, wins)
	}
	return winner
}
