package vmprx

import (
	"errors"
	"runtime"
	"time"
)

// HoldPorts makes the goroutines that read v's ports wait until release
// is called, so that a benchmark can queue a backlog in the socket that
// nobody reads meanwhile. The receive goroutine, woken by the backlog
// while the ports were held, steps back and comes back after the lease
// time (udp.Gate) unless a poller reads the port meanwhile; release leaves
// the gate's lease as it was, as if the hold — which has no counterpart
// in a raw socket's reader — had not happened.
func HoldPorts(v *VMPRx) (release func()) {
	var held []*port
	for i := range v.ports {
		if pt := v.ports[i].Load(); pt != nil {
			for !pt.gate.TryEnter() {
				runtime.Gosched()
			}
			held = append(held, pt)
		}
	}
	return func() {
		for _, pt := range held {
			pt.gate.Release()
		}
	}
}

// SetLease sets the lease time of v's ports (udp.Gate.SetLease).
func SetLease(v *VMPRx, d time.Duration) {
	for i := range v.ports {
		if pt := v.ports[i].Load(); pt != nil {
			pt.gate.SetLease(d)
		}
	}
}

// How StrandRTPPort leaves the RTP port.
type Strand int

const (
	// Stranded: the port's lease time becomes an hour and the gate is left
	// unleased, the receive goroutine's step back forgotten: nothing reads
	// the datagrams until a GetPacket polls the port (or more traffic
	// arrives).
	Stranded Strand = iota
	// Leased: the gate is left as a poller that read a full batch leaves
	// it (leased to the pollers): the receive goroutine reads the
	// datagrams once the lease time has passed without a poll.
	Leased
	// SteppedBack: as Stranded, but the receive goroutine's step back is
	// not forgotten: the next poll that does not lease the port is told to
	// poll again.
	SteppedBack
)

// StrandRTPPort runs send while holding the RTP port's gate, waits until
// the receive goroutine has seen the datagrams and stepped back, and
// releases the gate as how says.
func StrandRTPPort(v *VMPRx, send func(), how Strand) error {
	pt := v.ports[0].Load()
	if pt == nil {
		return errors.New("not configured")
	}
	if how != Leased {
		pt.gate.SetLease(time.Hour)
	}
	for !pt.gate.TryEnter() {
		runtime.Gosched()
	}
	send()
	for deadline := time.Now().Add(5 * time.Second); !pt.gate.Skipped(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			pt.gate.Release()
			return errors.New("the receive goroutine did not wake up")
		}
	}
	// Each datagram may wake it again, and a lease timer armed before
	// may fire: wait for a quiet 50 ms.
	for quiet := 0; quiet < 50; quiet++ {
		time.Sleep(time.Millisecond)
		if pt.gate.Skipped() {
			pt.gate.Leave(false) // clear it, then hold again
			for !pt.gate.TryEnter() {
				runtime.Gosched()
			}
			quiet = 0
		}
	}
	switch how {
	case Leased:
		pt.gate.Leave(true)
	case Stranded:
		pt.gate.Leave(false)
	case SteppedBack:
		pt.gate.Leave(false)
		for !pt.gate.TryEnter() {
			runtime.Gosched()
		}
		pt.gate.TryEnterOwing() // fails, as we hold the gate, and marks the step back again
		pt.gate.Release()
	}
	return nil
}
