package event

import (
	"slices"
	"testing"
)

// FuzzQueue drives a Queue and eight events through a random sequence of
// Attach, Detach, Signal, SignalPermanently and poll, and checks every poll
// against a model of the ready list: each ready event exactly once, in the
// order it became ready, permanent events again after each report.
func FuzzQueue(f *testing.F) {
	f.Add([]byte{0, 8, 16, 2, 10, 4})
	f.Add([]byte{0, 3, 11, 4, 4, 1, 4, 2, 4})
	f.Add([]byte{2, 0, 4, 3, 4, 4, 1, 4})
	f.Fuzz(func(t *testing.T, ops []byte) {
		const n = 8
		q := NewQueue()
		srcs := make([]*Source, n)
		for i := range srcs {
			srcs[i] = NewSource()
		}
		attached := make([]bool, n)
		token := make([]bool, n) // signalled at least once (the channel is never read here)
		perm := make([]bool, n)
		var ready []int // model of the ready list, in order
		inReady := func(i int) bool { return slices.Contains(ready, i) }
		out := make([]Ready, 3)
		for _, op := range ops {
			i := int(op>>3) % n
			switch op % 5 {
			case 0: // attach
				err := q.Attach(srcs[i].Event(), i)
				if attached[i] != (err != nil) {
					t.Fatalf("Attach(%d) = %v with attached=%v", i, err, attached[i])
				}
				if err == nil {
					attached[i] = true
					if token[i] || perm[i] {
						ready = append(ready, i)
					}
				}
			case 1: // detach
				err := q.Detach(srcs[i].Event())
				if attached[i] != (err == nil) {
					t.Fatalf("Detach(%d) = %v with attached=%v", i, err, attached[i])
				}
				attached[i] = false
				ready = slices.DeleteFunc(ready, func(k int) bool { return k == i })
			case 2:
				srcs[i].Signal()
				if !perm[i] {
					token[i] = true
				}
				if attached[i] && !inReady(i) {
					ready = append(ready, i)
				}
			case 3:
				srcs[i].SignalPermanently()
				perm[i] = true
				if attached[i] && !inReady(i) {
					ready = append(ready, i)
				}
			case 4:
				k, err := q.poll(out)
				if err != nil {
					t.Fatal(err)
				}
				want := min(len(ready), len(out))
				if k != want {
					t.Fatalf("poll = %d events, model has %v", k, ready)
				}
				var again []int
				for j, r := range out[:k] {
					if r.Tag.(int) != ready[j] || r.Event != srcs[ready[j]].Event() || r.Permanent != perm[ready[j]] {
						t.Fatalf("poll[%d] = %+v, model %v", j, r, ready)
					}
					if perm[ready[j]] {
						again = append(again, ready[j])
					}
				}
				ready = append(ready[k:], again...)
			}
		}
		total := 0
		for _, a := range attached {
			if a {
				total++
			}
		}
		if q.Len() != total {
			t.Fatalf("Len = %d, model %d", q.Len(), total)
		}
	})
}
