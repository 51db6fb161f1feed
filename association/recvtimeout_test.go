package association_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlsrx"
)

// TestReceiveTimeoutTerminated: on an established association with
// nothing to read, GetPacket returns ErrNoPacket at once (RIOT's timeout
// 0, -EAGAIN) and a wait on the DTLS[rx]'s event ends with the context's
// deadline (RIOT's -ETIMEDOUT), an expired context at once; the timeout
// ends nothing: the association stays established and the next record is
// read (docs/conformance.md, RIOT 11).
func TestReceiveTimeoutTerminated(t *testing.T) {
	mod := certModule(t)
	a, b := newSide(t, mod), newSide(t, mod)
	b.bind(t, a.port, association.Config{Role: association.Server, Tags: []mediaport.CredTag{1}})
	a.bind(t, b.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}})
	waitEstablished(t, a, b)

	buf := make([]byte, 1500)
	if _, _, err := b.rx.GetPacket(buf); !errors.Is(err, dtlsrx.ErrNoPacket) {
		t.Fatalf("GetPacket with nothing queued: %v", err)
	}
	ev, _ := b.rx.Event()
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if err := ev.Wait(expired); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with an expired context: %v", err)
	}
	// A short wait: the event may wake with nothing new (allowed), but no
	// packet may appear and the wait ends with the deadline.
	ctx, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	var err error
	for err == nil {
		if err = ev.Wait(ctx); err == nil {
			if st, _ := b.rx.Status(); st != dtlsrx.Running {
				t.Fatalf("status %v while idle, want Running", st)
			}
			if _, _, gerr := b.rx.GetPacket(buf); !errors.Is(gerr, dtlsrx.ErrNoPacket) {
				t.Fatalf("GetPacket while idle: %v", gerr)
			}
		}
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("idle wait ended with %v, want context.DeadlineExceeded", err)
	}
	if st, aerr := b.a.State(); st != association.Established || aerr != nil {
		t.Fatalf("association after the timeout: %v %v", st, aerr)
	}
	if st, _ := b.rx.Status(); st != dtlsrx.Running {
		t.Fatalf("DTLS[rx] after the timeout: %v", st)
	}
	a.sendTo(t, b, "after the timeout") // and b reads it
}
