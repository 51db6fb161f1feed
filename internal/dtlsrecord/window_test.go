package dtlsrecord

import "testing"

func TestWindow(t *testing.T) {
	var w Window
	steps := []struct {
		seq    uint64
		fresh  bool
		accept bool
	}{
		{5, true, true}, {5, false, false}, {3, true, true}, {3, false, false},
		{100, true, true}, {5, false, false}, // older than the window now
		{100 - WindowSize + 1, true, true}, {100 - WindowSize, false, false},
		{99, true, true}, {99, false, false}, {101, true, false}, {101, true, true}, {101, false, false},
		{1 << 47, true, true}, {101, false, false},
	}
	for i, s := range steps {
		if got := w.Check(s.seq); got != s.fresh {
			t.Fatalf("step %d: Check(%d) = %v", i, s.seq, got)
		}
		if s.accept {
			w.Accept(s.seq)
		}
	}
	w.AcceptThrough(10)
	for s := uint64(0); s <= 10; s++ {
		if w.Check(s) {
			t.Fatalf("AcceptThrough(10): %d fresh", s)
		}
	}
	if !w.Check(11) {
		t.Fatal("11 not fresh")
	}
}
