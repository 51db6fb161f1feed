package vmprx_test

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/vmprx"
)

// TestKernelDrops: ports whose receive buffer is the kernel's minimum get
// a flood that nobody reads meanwhile (with CallerReads nobody reads
// until the application does; by default the receive goroutines are held),
// so the kernel drops most of it. Stats.KernelDrops then reports, once a
// datagram sent after the flood is read, exactly the drops column of
// /proc/net/udp for the ports' sockets, summed; and every datagram sent
// was either delivered or dropped by the kernel. In both modes, with GRO,
// on separate RTP and RTCP ports, and with one datagram per read.
func TestKernelDrops(t *testing.T) {
	for _, c := range []struct {
		name        string
		callerReads bool
		gro         bool
		mux         bool
		batch       int
	}{
		{"PortReads", false, false, true, 0},
		{"CallerReads", true, false, true, 0},
		{"GRO", true, true, true, 0},
		{"SeparatePorts", false, false, false, 0},
		{"OneSlot", true, false, true, 1}, // samples the count: see udp.Message.Drops
	} {
		t.Run(c.name, func(t *testing.T) {
			mod := openModule(t, mediaport.Options{Batch: c.batch})
			v, err := vmprx.Create(mod)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Config(vmprx.Config{Local: lo4, RTCPMux: c.mux, CallerReads: c.callerReads, GRO: c.gro}); err != nil {
				if errors.Is(err, errors.ErrUnsupported) {
					t.Skip(err)
				}
				t.Fatal(err)
			}
			rtpAddr, rtcpAddr, _ := v.Ports()
			type target struct {
				conn *net.UDPConn
				addr netip.AddrPort
				pkt  func(seq uint16) []byte
			}
			targets := []target{{vmprx.PortConn(v, false), rtpAddr, func(seq uint16) []byte { return rtpPacket(1, seq, "flood") }}}
			if !c.mux {
				targets = append(targets, target{vmprx.PortConn(v, true), rtcpAddr, func(uint16) []byte { return rtcpPacket(1) }})
			}
			for _, tg := range targets {
				if err := tg.conn.SetReadBuffer(1); err != nil { // the kernel's minimum, some 4 KiB
					t.Fatal(err)
				}
			}
			procDrops := func() uint64 {
				n := uint64(0)
				for _, tg := range targets {
					n += testutil.KernelDrops(t, tg.conn)
				}
				return n
			}
			s := sender(t, lo4)
			release := func() {}
			if !c.callerReads {
				release = sync.OnceFunc(vmprx.HoldPorts(v))
				defer release() // a failure below must not leave the ports held: Destroy waits for them
			}
			const flood = 300
			sent := 0
			for i := range flood {
				for _, tg := range targets {
					if _, err := s.WriteTo(tg.pkt(uint16(i)), tg.addr); err != nil {
						t.Fatal(err)
					}
					sent++
				}
			}
			testutil.Eventually(t, testutil.Patience, func() bool { return procDrops() > 0 },
				"%d datagrams into minimal buffers, none dropped", sent)
			release()
			// Read everything; the drops after the last datagram read show
			// with the next, so send markers (which the kernel may drop
			// too, while the buffers are full) until the counts agree.
			r := &reading{t: t, v: v, buf: make([]byte, 2048)}
			lastMarker := time.Time{}
			var st vmprx.Stats
			var proc uint64
			testutil.Eventually(t, testutil.Patience, func() bool {
				r.poll()
				st, _ = v.Stats()
				proc = procDrops()
				if uint64(len(r.pkts))+proc == uint64(sent) && st.KernelDrops == proc {
					return true
				}
				if time.Since(lastMarker) > 20*time.Millisecond {
					for _, tg := range targets {
						if _, err := s.WriteTo(tg.pkt(0xffff), tg.addr); err != nil {
							t.Fatal(err)
						}
						sent++
					}
					lastMarker = time.Now()
				}
				return false
			}, "Stats.KernelDrops never matched /proc/net/udp: %d delivered, %d sent, stats %+v, /proc drops %d",
				len(r.pkts), sent, st, proc)
			if st.Overrun != 0 || st.Malformed != 0 || st.RTP+st.RTCP != uint64(len(r.pkts)) {
				t.Errorf("stats %+v for %d delivered", st, len(r.pkts))
			}
			t.Logf("%d sent, %d delivered, %d dropped by the kernel", sent, len(r.pkts), st.KernelDrops)
		})
	}
}
