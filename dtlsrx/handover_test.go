package dtlsrx_test

import (
	"encoding/binary"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/internal/core"
	"github.com/mediaport/mediaport/internal/link"
	"github.com/mediaport/mediaport/internal/pktq"
)

// recorder is a record sink standing in for an association: it keeps the
// sequence number of every record it is handed.
type recorder struct {
	mu   sync.Mutex
	seen []uint32
}

func (r *recorder) Deliver(p *pktq.Packet) bool {
	r.mu.Lock()
	r.seen = append(r.seen, binary.BigEndian.Uint32(p.Bytes()))
	r.mu.Unlock()
	return true
}

func (r *recorder) Flush() {}

// TestHandOverRace: records delivered to a DTLS[rx] while an association
// binds it all reach the association, once each and in order — those
// queued before the bind, those that arrive while they are handed over,
// and those after — and nothing stays in the DTLS[rx]'s own queue for
// GetPacket.
func TestHandOverRace(t *testing.T) {
	mod, err := mediaport.OpenModule(mediaport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	m, _ := core.Get(mod)
	const records = 2000
	for round := 0; round < 20; round++ {
		rx, err := dtlsrx.Create(mod, dtlsrx.Options{QueueLen: records})
		if err != nil {
			t.Fatal(err)
		}
		sink, _ := link.SinkOf(rx)
		ctl, _ := link.RxControlOf(rx)
		rec := &recorder{}
		var sent atomic.Uint32
		done := make(chan struct{})
		go func() { // the port's receive goroutine
			defer close(done)
			for i := uint32(0); i < records; i++ {
				p := m.Packets.Get()
				binary.BigEndian.PutUint32(p.Buf, i)
				p.N = 4
				if !sink.Deliver(p) {
					t.Errorf("record %d refused", i)
					m.Packets.Put(p)
				}
				sent.Store(i + 1)
			}
		}()
		for sent.Load() < uint32(round*records/20) { // bind at a different moment each round
			runtime.Gosched()
		}
		if err := ctl.SetRecordSink(rec); err != nil {
			t.Fatal(err)
		}
		<-done
		rec.mu.Lock()
		seen := rec.seen
		rec.mu.Unlock()
		if len(seen) != records {
			t.Fatalf("round %d: the association got %d of %d records", round, len(seen), records)
		}
		for k, i := range seen {
			if i != uint32(k) {
				t.Fatalf("round %d: record %d handed over in place %d (lost, duplicated or out of order)", round, i, k)
			}
		}
		if st, _ := rx.Status(); st == dtlsrx.HasPacket {
			t.Fatalf("round %d: records left in the DTLS[rx]'s queue", round)
		}
		if _, _, err := rx.GetPacket(make([]byte, 64)); !errors.Is(err, dtlsrx.ErrNoPacket) {
			t.Fatalf("round %d: GetPacket after the bind: %v", round, err)
		}
		rx.Destroy()
	}
}
