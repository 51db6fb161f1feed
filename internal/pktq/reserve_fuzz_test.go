package pktq

import "testing"

// FuzzReservedQueue runs a sequence of Push (0), PushReserved (1) and Pop
// (2) operations, one per input byte, on a queue whose bound and reserve
// come from the first two bytes, against a model: one FIFO; Push refused
// exactly when the queue holds the bound or more, PushReserved exactly
// when it holds bound+reserve, which never happens with fewer than
// reserve reserved packets queued; Pop returns packets in push order.
func FuzzReservedQueue(f *testing.F) {
	f.Add([]byte{4, 2, 0, 0, 0, 0, 0, 1, 0, 1, 1, 2, 0, 1, 2, 2, 2, 0})
	f.Add([]byte{1, 0, 1, 1, 0, 2, 1})
	f.Add([]byte{0, 5, 1, 1, 1, 1, 1, 1, 1, 0, 2, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) < 2 {
			return
		}
		bound, reserve := int(ops[0]%16)+1, int(ops[1]%8)
		pool := NewPool(8)
		q := NewReservedQueue(bound, reserve, pool)
		type item struct {
			id       byte
			reserved bool
		}
		var model []item
		buf := make([]byte, 8)
		next := byte(0)
		for _, op := range ops[2:] {
			switch op % 3 {
			case 0, 1:
				reserved := op%3 == 1
				limit := bound
				if reserved {
					limit += reserve
				}
				p := pool.Get()
				p.N, p.Buf[0], p.Kind = 1, next, op%3
				var got bool
				if reserved {
					got = q.PushReserved(p)
				} else {
					got = q.Push(p)
				}
				want := len(model) < limit
				if got != want {
					t.Fatalf("push (reserved %v) with %d queued, bound %d+%d: %v", reserved, len(model), bound, reserve, got)
				}
				if !got {
					if reserved {
						n := 0
						for _, it := range model {
							if it.reserved {
								n++
							}
						}
						if n < reserve {
							t.Fatalf("reserved push refused with %d reserved queued, reserve %d", n, reserve)
						}
					}
					pool.Put(p)
					continue
				}
				model = append(model, item{next, reserved})
				next++
			case 2:
				pp, ok, err := q.Pop(buf)
				if err != nil || ok != (len(model) > 0) {
					t.Fatalf("pop: %v %v with %d queued", ok, err, len(model))
				}
				if !ok {
					continue
				}
				if buf[0] != model[0].id || (pp.Kind == 1) != model[0].reserved {
					t.Fatalf("popped %d (kind %d), want %d", buf[0], pp.Kind, model[0].id)
				}
				model = model[1:]
			}
			if q.Len() != len(model) {
				t.Fatalf("Len %d, model %d", q.Len(), len(model))
			}
		}
	})
}
