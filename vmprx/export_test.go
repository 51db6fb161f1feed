package vmprx

import (
	"errors"
	"runtime"
	"time"
)

// HoldPorts makes the goroutines that read v's ports wait until release
// is called, so that a benchmark can queue a backlog in the socket that
// nobody reads meanwhile. The receive goroutine, woken by the backlog
// while the ports were held, steps back and leaves whoever holds a port the
// duty to read it all (udp.Gate); release drops that duty, as if the hold —
// which has no counterpart in a raw socket's reader — had not happened:
// the backlog is then read by whoever reads next, as a raw socket's is.
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
			pt.gate.Leave() // and drop what it reports
		}
	}
}

// StrandRTPPort runs send while holding the RTP port's gate, waits until
// the receive goroutine has seen the datagrams and stepped back (it then
// waits for the next one), and releases the gate. With keepDuty false the
// duty to read what is queued is dropped: nothing reads those datagrams
// until a GetPacket polls the port (or more traffic arrives). With
// keepDuty true the next poller's Leave reports it.
func StrandRTPPort(v *VMPRx, send func(), keepDuty bool) error {
	pt := v.ports[0].Load()
	if pt == nil {
		return errors.New("not configured")
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
	// Each datagram may wake it again: wait for a quiet 50 ms.
	for quiet := 0; quiet < 50; quiet++ {
		time.Sleep(time.Millisecond)
		if pt.gate.Skipped() {
			pt.gate.Leave() // clear it, then hold again
			for !pt.gate.TryEnter() {
				runtime.Gosched()
			}
			quiet = 0
		}
	}
	if keepDuty {
		pt.gate.TryEnterOwing() // fails, as we hold the gate, and leaves the duty to us
	}
	pt.gate.Release()
	return nil
}
