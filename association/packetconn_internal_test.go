package association

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mediaport/mediaport/internal/clock"
	"github.com/mediaport/mediaport/internal/core"
	"github.com/mediaport/mediaport/internal/pktq"
)

// coreFake is internal/clock's Fake as the module's core sees a clock.
type coreFake struct{ *clock.Fake }

func (f coreFake) AfterFunc(d time.Duration, fn func()) core.Timer { return f.Fake.AfterFunc(d, fn) }

// TestPacketConnDeadline: the read deadline of the PacketConn pion runs
// over is on the module's clock: a future one passes when that clock
// reaches it and ends a blocked ReadFrom with a timeout, a past one at
// once, the zero time clears it; records and Close end a wait too.
func TestPacketConnDeadline(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	mod := core.NewModule(nil, coreFake{clk}, core.Limits{})
	a := &Association{mod: mod, raw: pktq.NewQueue(4, mod.Packets), wake: make(chan struct{}, 1)}
	pc := &packetConn{a: a}
	type result struct {
		n   int
		err error
	}
	read := func() chan result {
		ch := make(chan result, 1)
		go func() {
			n, _, err := pc.ReadFrom(make([]byte, 64))
			ch <- result{n, err}
		}()
		return ch
	}
	wait := func(ch chan result) result {
		t.Helper()
		select {
		case r := <-ch:
			return r
		case <-time.After(30 * time.Second):
			t.Fatal("ReadFrom still blocked")
			return result{}
		}
	}
	isTimeout := func(err error) bool {
		ne := net.Error(nil)
		return errors.As(err, &ne) && ne.Timeout()
	}

	pc.SetReadDeadline(clk.Now().Add(time.Second))
	ch := read()
	clk.Advance(time.Second - time.Millisecond)
	if pc.expired.Load() {
		t.Fatal("deadline passed 1 ms early")
	}
	clk.Advance(time.Millisecond)
	if r := wait(ch); !isTimeout(r.err) {
		t.Fatalf("ReadFrom at the deadline: %d %v, want a timeout", r.n, r.err)
	}
	pc.SetReadDeadline(time.Unix(1, 0))
	if r := wait(read()); !isTimeout(r.err) {
		t.Fatalf("ReadFrom after a past deadline: %d %v, want a timeout", r.n, r.err)
	}

	pc.SetReadDeadline(clk.Now().Add(time.Second))
	pc.SetReadDeadline(time.Time{}) // cleared: the timer must not fire
	ch = read()
	clk.Advance(time.Hour)
	if pc.expired.Load() {
		t.Fatal("a cleared deadline passed")
	}
	p := mod.Packets.Get()
	p.N, p.Src = copy(p.Buf, "rec"), netip.MustParseAddrPort("192.0.2.1:5000")
	a.raw.Push(p)
	a.flush()
	if r := wait(ch); r.err != nil || r.n != 3 {
		t.Fatalf("ReadFrom of a record: %d %v", r.n, r.err)
	}

	ch = read()
	pc.Close()
	if r := wait(ch); !errors.Is(r.err, net.ErrClosed) {
		t.Fatalf("ReadFrom after Close: %d %v, want net.ErrClosed", r.n, r.err)
	}
}

// TestForRead: a datagram is for Read when one of its records is
// application data or an alert, wherever it lies.
func TestForRead(t *testing.T) {
	rec := func(ct byte, body ...byte) []byte {
		return append([]byte{ct, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 1, 0, byte(len(body))}, body...)
	}
	cat := func(rs ...[]byte) []byte {
		var d []byte
		for _, r := range rs {
			d = append(d, r...)
		}
		return d
	}
	for _, tc := range []struct {
		name string
		d    []byte
		want bool
	}{
		{"handshake", rec(ctHandshake, 20, 0, 0, 0), false},
		{"ccs+finished", cat(rec(ctChangeCipherSpec, 1), rec(ctHandshake, 1, 2, 3)), false},
		{"data", rec(ctApplicationData, 1, 2), true},
		{"alert", rec(ctAlert, 1, 0), true},
		{"finished+data", cat(rec(ctHandshake, 1, 2, 3), rec(ctApplicationData, 9)), true},
		{"ccs+alert", cat(rec(ctChangeCipherSpec, 1), rec(ctAlert, 2, 40)), true},
	} {
		if !ValidRecords(tc.d) {
			t.Fatalf("%s: test datagram not valid", tc.name)
		}
		if got := forRead(tc.d); got != tc.want {
			t.Errorf("%s: forRead %v, want %v", tc.name, got, tc.want)
		}
	}
}
