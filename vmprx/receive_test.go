package vmprx_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dispatcher"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/internal/link"
	"github.com/mediaport/mediaport/internal/pktq"
	"github.com/mediaport/mediaport/internal/rxloop"
	"github.com/mediaport/mediaport/vmprx"
)

// modes are the two ways a port is read.
var modes = []struct {
	name        string
	callerReads bool
}{{"PortReads", false}, {"CallerReads", true}}

// newMode is newPassThrough in the given mode.
func newMode(t *testing.T, opts mediaport.Options, callerReads bool) (*vmprx.VMPRx, netip.AddrPort, *dtlsrx.DTLSRx) {
	t.Helper()
	mod := openModule(t, opts)
	v, rtp, _ := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: true, CallerReads: callerReads})
	rx, err := dtlsrx.Create(mod)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.ConfigDTLS(rx, false); err != nil {
		t.Fatal(err)
	}
	return v, rtp, rx
}

// waitSignal waits for c, failing after twenty seconds.
func waitSignal(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: not signalled", what)
	}
}

// TestRouteBothModes: in both modes every datagram reaches its endpoint:
// RTP in order to the VMP[rx]'s GetPacket, DTLS to its DTLS[rx], STUN to
// the handler, once each. With CallerReads nothing is read until a
// consumer reads: the watcher signals the VMP[rx] and the DTLS[rx] when
// the datagrams arrive, and the counters stay at zero until Status reads.
func TestRouteBothModes(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			v, rtp, rx := newMode(t, mediaport.Options{}, m.callerReads)
			var stun atomic.Int32
			v.SetSTUNHandler(func([]byte, netip.AddrPort, bool) { stun.Add(1) })
			ev, _ := v.Event()
			waitStatus(t, ev, v.Status, vmprx.GotPorts)
			if st, _ := v.Status(); st != vmprx.Running {
				t.Fatalf("Status = %v, want Running", st)
			}
			rev, _ := rx.Event()
			s := sender(t, lo4)
			s.WriteTo(rtpPacket(7, 1, "one"), rtp)
			s.WriteTo(dtlsRecord("hello"), rtp)
			s.WriteTo(stunBinding(), rtp)
			s.WriteTo(rtpPacket(7, 2, "two"), rtp)
			if m.callerReads {
				waitSignal(t, ev.C(), "VMP[rx]")
				waitSignal(t, rev.C(), "DTLS[rx]")
				if st, _ := v.Stats(); st.RTP+st.DTLS+st.STUN != 0 {
					t.Fatalf("read before a consumer read: %+v", st)
				}
				if got := vmprx.WatchState(v); got != rxloop.Fired {
					t.Fatalf("watcher %v, want Fired", got)
				}
			}
			buf := make([]byte, 2048)
			for _, seq := range []uint16{1, 2} {
				waitStatus(t, ev, v.Status, vmprx.HasPacket)
				pkt, err := v.GetPacket(buf)
				if err != nil || pkt.Class != vmprx.ClassRTP || binary.BigEndian.Uint16(buf[2:4]) != seq || pkt.Src != s.LocalAddr() {
					t.Fatalf("GetPacket = %+v, %v (seq %d); want RTP seq %d from %v", pkt, err, binary.BigEndian.Uint16(buf[2:4]), seq, s.LocalAddr())
				}
			}
			for {
				n, _, err := rx.GetPacket(buf)
				if errors.Is(err, dtlsrx.ErrNoPacket) {
					waitSignal(t, rev.C(), "DTLS[rx]")
					continue
				}
				if err != nil || string(buf[13:n]) != "hello" {
					t.Fatalf("DTLS[rx] GetPacket = %q, %v", buf[:n], err)
				}
				break
			}
			waitStats(t, v, func(st vmprx.Stats) bool { return st.STUN == 1 })
			if stun.Load() != 1 {
				t.Fatalf("STUN handler called %d times, want 1", stun.Load())
			}
			if _, err := v.GetPacket(buf); !errors.Is(err, vmprx.ErrNoPacket) {
				t.Fatalf("GetPacket on an empty port = %v", err)
			}
			if m.callerReads {
				// The read that found the socket empty armed the watcher.
				if got := vmprx.WatchState(v); got != rxloop.Armed {
					t.Fatalf("watcher %v after the socket was emptied, want Armed", got)
				}
			}
			// New traffic is noticed again.
			s.WriteTo(rtpPacket(7, 3, "three"), rtp)
			waitStatus(t, ev, v.Status, vmprx.HasPacket)
		})
	}
}

// TestCallerReadsDirect: with CallerReads the DTLS[rx]'s GetPacket reads
// the port itself, its records straight into the caller's buffer; a
// datagram that is not its own is routed (RTP to the VMP[rx]'s queue)
// and the records after it come through the DTLS[rx]'s queue, in order;
// a buffer too short for any datagram gets its record through the queue.
// A detached DTLS[rx] no longer reads the port.
func TestCallerReadsDirect(t *testing.T) {
	v, rtp, rx := newMode(t, mediaport.Options{}, true)
	rev, _ := rx.Event()
	s := sender(t, lo4)
	s.WriteTo(dtlsRecord("x"), rtp)
	buf := make([]byte, 2048)
	get := func(b []byte) (int, netip.AddrPort) {
		t.Helper()
		for {
			n, src, err := rx.GetPacket(b)
			if errors.Is(err, dtlsrx.ErrNoPacket) {
				waitSignal(t, rev.C(), "DTLS[rx]")
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			return n, src
		}
	}
	if n, src := get(buf); string(buf[13:n]) != "x" || src != s.LocalAddr() {
		t.Fatalf("DTLS[rx] GetPacket = %q from %v", buf[:n], src)
	}
	s.WriteTo(rtpPacket(3, 1, "media"), rtp)
	s.WriteTo(dtlsRecord("y"), rtp)
	s.WriteTo(dtlsRecord("zz"), rtp)
	if n, _ := get(buf); string(buf[13:n]) != "y" {
		t.Fatalf("DTLS[rx] GetPacket after RTP = %q", buf[:n])
	}
	small := make([]byte, 100)
	if n, _ := get(small); string(small[13:n]) != "zz" {
		t.Fatalf("DTLS[rx] GetPacket into 100 bytes = %q", small[:n])
	}
	ev, _ := v.Event()
	waitStatus(t, ev, v.Status, vmprx.HasPacket)
	if pkt, err := v.GetPacket(buf); err != nil || pkt.Class != vmprx.ClassRTP || string(buf[12:pkt.Len]) != "media" {
		t.Fatalf("VMP[rx] GetPacket = %+v %q, %v", pkt, buf[:pkt.Len], err)
	}
	if st, _ := v.Stats(); st.DTLS != 3 || st.RTP != 1 {
		t.Fatalf("VMP[rx] stats %+v", st)
	}
	if st, _ := rx.Stats(); st.Packets != 3 || st.Bytes != 13+1+13+1+13+2 {
		t.Fatalf("DTLS[rx] stats %+v", st)
	}
	// Detached: the DTLS[rx] no longer reads the port, and is not
	// signalled; the VMP[rx] is.
	v.ConfigDTLS(nil, false)
	for len(rev.C()) > 0 || len(ev.C()) > 0 {
		select {
		case <-rev.C():
		case <-ev.C():
		}
	}
	// A signal just drained may have been the watcher's, which then
	// waits for a consumer to find the socket empty: read as a signalled
	// consumer must.
	v.Status()
	s.WriteTo(dtlsRecord("w"), rtp)
	waitSignal(t, ev.C(), "VMP[rx]")
	if _, _, err := rx.GetPacket(buf); !errors.Is(err, dtlsrx.ErrNoPacket) {
		t.Fatalf("detached DTLS[rx] GetPacket = %v, want ErrNoPacket", err)
	}
	if st, _ := v.Stats(); st.DTLS != 3 {
		t.Fatalf("the detached DTLS[rx] read the port: %+v", st)
	}
	v.Status() // reads it: unrouted
	if st, _ := v.Stats(); st.DTLS != 4 || st.DTLSUnrouted != 1 {
		t.Fatalf("after Status: %+v", st)
	}
}

// TestDirectReadTooLong: a record longer than the module's MaxPacket that
// fits the buffer a DTLS[rx]'s GetPacket reads into is dropped and counted
// as truncated, as a receive goroutine would — not returned, no panic.
func TestDirectReadTooLong(t *testing.T) {
	v, rtp, rx := newMode(t, mediaport.Options{MaxPacket: 1500}, true)
	rev, _ := rx.Event()
	s := sender(t, lo4)
	s.WriteTo(dtlsRecord(string(bytes.Repeat([]byte{'x'}, 200))+string(make([]byte, 2000))), rtp)
	s.WriteTo(dtlsRecord("ok"), rtp)
	buf := make([]byte, 4096)
	for {
		n, _, err := rx.GetPacket(buf)
		if errors.Is(err, dtlsrx.ErrNoPacket) {
			waitSignal(t, rev.C(), "DTLS[rx]")
			continue
		}
		if err != nil || string(buf[13:n]) != "ok" {
			t.Fatalf("GetPacket = %d bytes, %v; want the short record", n, err)
		}
		break
	}
	if st, _ := v.Stats(); st.Truncated != 1 || st.DTLS != 1 {
		t.Fatalf("stats %+v: want the long record counted as truncated", st)
	}
}

// TestConcurrentReaders: one goroutine reads the VMP[rx] and another the
// DTLS[rx], while a sender streams RTP, DTLS and STUN interleaved on one
// port in rounds that stay well within the socket buffer (the next round
// is sent once the last was received, so the kernel drops nothing): in
// both modes every packet of each kind arrives exactly once and in
// order, and the STUN handler sees every STUN datagram once.
func TestConcurrentReaders(t *testing.T) {
	const rounds, per = 100, 20
	const n = rounds * per
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			mod := openModule(t, mediaport.Options{QueueLen: 4096, Batch: 8})
			v, rtp, _ := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: true, QueueLen: 4096, CallerReads: m.callerReads})
			rx, _ := dtlsrx.Create(mod, dtlsrx.Options{QueueLen: 4096})
			v.ConfigDTLS(rx, false)
			var stunSeen atomic.Int32
			v.SetSTUNHandler(func([]byte, netip.AddrPort, bool) { stunSeen.Add(1) })
			s := sender(t, lo4)
			var gotRTP, gotDTLS atomic.Int32
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			go func() {
				for r := 0; r < rounds; r++ {
					for i := r * per; i < (r+1)*per; i++ {
						s.WriteTo(rtpPacket(1, uint16(i), "m"), rtp)
						s.WriteTo(dtlsRecord(fmt.Sprint(i)), rtp)
						if i%10 == 0 {
							s.WriteTo(stunBinding(), rtp)
						}
					}
					for gotRTP.Load() < int32((r+1)*per) || gotDTLS.Load() < int32((r+1)*per) {
						if ctx.Err() != nil {
							return
						}
						time.Sleep(100 * time.Microsecond)
					}
				}
			}()
			errc := make(chan error, 2)
			vev, _ := v.Event()
			go func() {
				errc <- readInOrder(ctx, "RTP", n, vev.C(), &gotRTP, func(buf []byte, want int) error {
					pkt, err := v.GetPacket(buf)
					if err != nil {
						if errors.Is(err, vmprx.ErrNoPacket) {
							v.Status() // as an application would on a wake-up
						}
						return err
					}
					if seq := binary.BigEndian.Uint16(buf[2:4]); pkt.Class != vmprx.ClassRTP || seq != uint16(want) {
						return fmt.Errorf("RTP %d: got seq %d (%v)", want, seq, pkt.Class)
					}
					return nil
				})
			}()
			rev, _ := rx.Event()
			go func() {
				errc <- readInOrder(ctx, "DTLS", n, rev.C(), &gotDTLS, func(buf []byte, want int) error {
					k, _, err := rx.GetPacket(buf)
					if err != nil {
						return err
					}
					if got := string(buf[13:k]); got != fmt.Sprint(want) {
						return fmt.Errorf("DTLS record %d: got %q", want, got)
					}
					return nil
				})
			}()
			for i := 0; i < 2; i++ {
				if err := <-errc; err != nil {
					st, _ := v.Stats()
					t.Fatalf("%v; stats %+v", err, st)
				}
			}
			// The STUN datagrams came before the last records: routed.
			if st, _ := v.Stats(); st.STUN != n/10 || stunSeen.Load() != n/10 {
				t.Fatalf("STUN handler called %d times, want %d: %+v", stunSeen.Load(), n/10, st)
			}
		})
	}
}

// readInOrder calls get for packets 0 to n-1 in turn, counting them in
// got, waiting on ready whenever get reports no packet (an error matching
// vmprx.ErrNoPacket or dtlsrx.ErrNoPacket). get returns an error, too,
// when the packet it read is not number want.
func readInOrder(ctx context.Context, what string, n int, ready <-chan struct{}, got *atomic.Int32, get func(buf []byte, want int) error) error {
	buf := make([]byte, 2048)
	for want := 0; want < n; {
		err := get(buf, want)
		if errors.Is(err, vmprx.ErrNoPacket) || errors.Is(err, dtlsrx.ErrNoPacket) {
			select {
			case <-ready:
			case <-ctx.Done():
				return fmt.Errorf("%s: stuck at %d of %d", what, want, n)
			}
			continue
		}
		if err != nil {
			return err
		}
		want++
		got.Add(1)
	}
	return nil
}

// TestDTLSRxGetPackets: with CallerReads, GetPackets returns the records
// queued first, then reads the port straight into the caller's buffers; a
// datagram that is not the DTLS[rx]'s (RTP) is routed — all in order,
// none lost. A buffer too short ends the batch and keeps the packet; bad
// arguments are refused.
func TestDTLSRxGetPackets(t *testing.T) {
	v, rtp, rx := newMode(t, mediaport.Options{Batch: 8}, true)
	rev, _ := rx.Event()
	s := sender(t, lo4)
	for _, p := range []string{"d1", "d2"} {
		s.WriteTo(dtlsRecord(p), rtp)
	}
	s.WriteTo(rtpPacket(9, 1, "media"), rtp)
	for _, p := range []string{"d3", "d4", "d5"} {
		s.WriteTo(dtlsRecord(p), rtp)
	}
	bufs := make([][]byte, 6)
	for i := range bufs {
		bufs[i] = make([]byte, 2048)
	}
	sizes, srcs := make([]int, 6), make([]netip.AddrPort, 6)
	var got []string
	for len(got) < 5 {
		n, err := rx.GetPackets(bufs, sizes, srcs)
		if errors.Is(err, dtlsrx.ErrNoPacket) {
			waitSignal(t, rev.C(), "DTLS[rx]")
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if srcs[i] != s.LocalAddr() {
				t.Fatalf("packet %d from %v, want %v", i, srcs[i], s.LocalAddr())
			}
			got = append(got, string(bufs[i][13:sizes[i]]))
		}
	}
	if want := "d1 d2 d3 d4 d5"; fmt.Sprint(got) != "["+want+"]" {
		t.Fatalf("records %v, want [%s]", got, want)
	}
	if _, err := rx.GetPackets(bufs, sizes, srcs); !errors.Is(err, dtlsrx.ErrNoPacket) {
		t.Fatalf("GetPackets with nothing left = %v, want ErrNoPacket", err)
	}
	if pkt, err := v.GetPacket(bufs[0]); err != nil || pkt.Class != vmprx.ClassRTP || string(bufs[0][12:pkt.Len]) != "media" {
		t.Fatalf("VMP[rx] GetPacket = %+v, %v; want the RTP packet", pkt, err)
	}
	if st, _ := rx.Stats(); st.Packets != 5 || st.Bytes != 5*15 {
		t.Fatalf("DTLS[rx] stats %+v, want 5 packets of 15 bytes", st)
	}

	// Buffers too short: the packet stays queued until a buffer holds it.
	s.WriteTo(dtlsRecord(string(make([]byte, 200))), rtp)
	s.WriteTo(dtlsRecord("x"), rtp)
	small := [][]byte{make([]byte, 100)}
	for {
		n, err := rx.GetPackets(small, sizes, srcs)
		if errors.Is(err, dtlsrx.ErrNoPacket) {
			waitSignal(t, rev.C(), "DTLS[rx]")
			continue
		}
		if n != 0 || !errors.Is(err, mediaport.ErrBufferTooSmall) || sizes[0] != 213 {
			t.Fatalf("GetPackets into 100 bytes = %d, %v, size %d; want 0, ErrBufferTooSmall, 213", n, err, sizes[0])
		}
		break
	}
	if n, err := rx.GetPackets([][]byte{bufs[0], make([]byte, 10)}, sizes, srcs); n != 1 || err != nil || sizes[0] != 213 {
		t.Fatalf("GetPackets into 2048 and 10 bytes = %d, %v, size %d; want the 213-byte record alone", n, err, sizes[0])
	}
	for {
		n, err := rx.GetPackets(bufs[:1], sizes, srcs)
		if errors.Is(err, dtlsrx.ErrNoPacket) {
			waitSignal(t, rev.C(), "DTLS[rx]")
			continue
		}
		if n != 1 || err != nil || string(bufs[0][13:sizes[0]]) != "x" {
			t.Fatalf("GetPackets = %d, %v; want the last record", n, err)
		}
		break
	}
	if _, err := rx.GetPackets(bufs, sizes[:2], srcs); !errors.Is(err, mediaport.ErrInvalidArgument) {
		t.Fatalf("GetPackets with 2 sizes for 6 buffers = %v, want ErrInvalidArgument", err)
	}
	if n, err := rx.GetPackets(nil, nil, nil); n != 0 || err != nil {
		t.Fatalf("GetPackets of nothing = %d, %v", n, err)
	}
	rx.Destroy()
	if _, err := rx.GetPackets(bufs, sizes, srcs); !errors.Is(err, mediaport.ErrDestroyed) {
		t.Fatalf("GetPackets after Destroy = %v, want ErrDestroyed", err)
	}
}

// TestGRO: with Config.GRO, in both modes, runs of datagrams sent with
// segmentation offload arrive coalesced and are split again: every RTP
// packet and DTLS record once, in order, and the empty datagram counted.
func TestGRO(t *testing.T) {
	for _, m := range modes {
		for _, loop := range []netip.Addr{lo4, netip.IPv6Loopback()} {
			testGRO(t, loop, m.callerReads)
		}
	}
}

func testGRO(t *testing.T, loop netip.Addr, callerReads bool) {
	mod := openModule(t, mediaport.Options{QueueLen: 512})
	v, err := vmprx.Create(mod)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Config(vmprx.Config{Local: loop, RTCPMux: true, GRO: true, CallerReads: callerReads}); err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	port, _, _ := v.Ports()
	rx, _ := dtlsrx.Create(mod, dtlsrx.Options{QueueLen: 512})
	v.ConfigDTLS(rx, false)
	d, err := dispatcher.Create(mod, dispatcher.Config{Destination: port, Local: netip.AddrPortFrom(loop, 0)})
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	var rtps, records [][]byte
	for i := 0; i < n; i++ {
		p := rtpPacket(5, uint16(i), string(bytes.Repeat([]byte{'r'}, 1000)))
		rtps = append(rtps, p)
		records = append(records, dtlsRecord(fmt.Sprintf("%0500d", i)))
	}
	for _, batch := range [][][]byte{rtps, records, {{}}} {
		if k, err := d.SendBatch(batch); err != nil || k != len(batch) {
			t.Fatalf("SendBatch = %d, %v", k, err)
		}
	}
	buf := make([]byte, 2048)
	ev, _ := v.Event()
	deadline := time.After(20 * time.Second)
	for want := 0; want < n; {
		pkt, err := v.GetPacket(buf)
		if errors.Is(err, vmprx.ErrNoPacket) {
			select {
			case <-ev.C():
			case <-deadline:
				st, _ := v.Stats()
				t.Fatalf("%v: %d of %d RTP packets: %+v", loop, want, n, st)
			}
			continue
		}
		if err != nil || !bytes.Equal(buf[:pkt.Len], rtps[want]) {
			t.Fatalf("%v: RTP %d: %v, %d bytes", loop, want, err, pkt.Len)
		}
		want++
	}
	rev, _ := rx.Event()
	for want := 0; want < n; {
		k, _, err := rx.GetPacket(buf)
		if errors.Is(err, dtlsrx.ErrNoPacket) {
			select {
			case <-rev.C():
			case <-deadline:
				t.Fatalf("%v: %d of %d DTLS records", loop, want, n)
			}
			continue
		}
		if err != nil || !bytes.Equal(buf[:k], records[want]) {
			t.Fatalf("%v: DTLS record %d: %v", loop, want, err)
		}
		want++
	}
	for st, _ := v.Stats(); st.Short != 1; st, _ = v.Stats() {
		v.Status() // with CallerReads, reads the port
		select {
		case <-deadline:
			t.Fatalf("%v: the empty datagram was not counted: %+v", loop, st)
		case <-time.After(time.Millisecond):
		}
	}
	st, _ := v.Stats()
	if st.RTP != n || st.DTLS != n || st.Truncated != 0 || st.Overrun != 0 {
		t.Fatalf("%v: stats %+v", loop, st)
	}
	if st.Coalesced == 0 || st.Coalesced > 2*n {
		t.Errorf("%v: %d datagrams arrived coalesced, want some (the batches were sent with GSO)", loop, st.Coalesced)
	}
}

// TestCallerReadsRefusesAssociation: a terminated association (which
// binds its DTLS[rx] through SetRecordSink) and a caller-reads port never
// meet, whichever comes first: the bind, ConfigDTLS and Config fail with
// an error matching ErrState.
func TestCallerReadsRefusesAssociation(t *testing.T) {
	mod := openModule(t, mediaport.Options{})
	v, _, _ := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: true, CallerReads: true})
	rx, _ := dtlsrx.Create(mod)
	if err := v.ConfigDTLS(rx, false); err != nil {
		t.Fatal(err)
	}
	ctl, err := link.RxControlOf(rx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ctl.SetRecordSink(nopSink{}); !errors.Is(err, mediaport.ErrState) {
		t.Fatalf("bind on a caller-reads port = %v, want ErrState", err)
	}

	// Bound first: ConfigDTLS on a caller-reads VMP[rx] fails, and so does
	// Config with CallerReads of a VMP[rx] it was given to before.
	rx2, _ := dtlsrx.Create(mod)
	ctl2, _ := link.RxControlOf(rx2)
	if err := ctl2.SetRecordSink(nopSink{}); err != nil {
		t.Fatal(err)
	}
	if err := v.ConfigDTLS(rx2, false); !errors.Is(err, mediaport.ErrState) {
		t.Fatalf("ConfigDTLS of a bound DTLS[rx] = %v, want ErrState", err)
	}
	v2, _ := vmprx.Create(mod)
	if err := v2.ConfigDTLS(rx2, false); err != nil {
		t.Fatal(err)
	}
	if err := v2.Config(vmprx.Config{Local: lo4, RTCPMux: true, CallerReads: true}); !errors.Is(err, mediaport.ErrState) {
		t.Fatalf("Config with CallerReads = %v, want ErrState", err)
	}
	if err := v2.Config(vmprx.Config{Local: lo4, RTCPMux: true}); err != nil {
		t.Fatalf("Config without CallerReads after the refusal: %v", err)
	}
}

type nopSink struct{}

func (nopSink) Deliver(*pktq.Packet) bool { return false }
func (nopSink) Flush()                    {}

// TestCallerReadsLevelTriggered: with CallerReads, an application that
// handles one packet per wake-up misses nothing while datagrams wait in
// the socket: each read that may have left some signals again. One
// datagram per read (Batch 1), so every record and packet but the last
// is left in the socket by the read before.
func TestCallerReadsLevelTriggered(t *testing.T) {
	v, rtp, rx := newMode(t, mediaport.Options{Batch: 1}, true)
	ev, _ := v.Event()
	waitStatus(t, ev, v.Status, vmprx.GotPorts)
	rev, _ := rx.Event()
	s := sender(t, lo4)
	const n = 5
	for i := range n {
		s.WriteTo(dtlsRecord(fmt.Sprint(i)), rtp)
	}
	buf := make([]byte, 2048)
	for i := 0; i < n; {
		waitSignal(t, rev.C(), fmt.Sprintf("DTLS[rx] for record %d", i))
		k, _, err := rx.GetPacket(buf) // one per wake-up
		if errors.Is(err, dtlsrx.ErrNoPacket) {
			continue // a stale signal; the next comes with the next datagram
		}
		if err != nil || string(buf[13:k]) != fmt.Sprint(i) {
			t.Fatalf("record %d: %q, %v", i, buf[:k], err)
		}
		i++
	}
	for i := range n {
		s.WriteTo(rtpPacket(4, uint16(i), "m"), rtp)
	}
	for i := 0; i < n; {
		waitSignal(t, ev.C(), fmt.Sprintf("VMP[rx] for packet %d", i))
		st, err := v.Status()
		if err != nil {
			t.Fatal(err)
		}
		if st == vmprx.NewSSRC || st == vmprx.Running {
			continue
		}
		if st != vmprx.HasPacket {
			t.Fatalf("Status = %v", st)
		}
		if _, err := v.GetPacket(buf); err != nil || binary.BigEndian.Uint16(buf[2:4]) != uint16(i) {
			t.Fatalf("packet %d: seq %d, %v", i, binary.BigEndian.Uint16(buf[2:4]), err)
		}
		i++
	}
}

// TestCallerReadsDestroy: Destroy ends the watcher whatever its state —
// waiting, parked after signalling, or delayed after an error — (goleak
// in TestMain checks that no goroutine is left).
func TestCallerReadsDestroy(t *testing.T) {
	for _, state := range []string{"waiting", "parked"} {
		v, rtp, rx := newMode(t, mediaport.Options{}, true)
		if state == "parked" {
			rev, _ := rx.Event()
			sender(t, lo4).WriteTo(dtlsRecord("x"), rtp)
			waitSignal(t, rev.C(), "DTLS[rx]")
			if got := vmprx.WatchState(v); got != rxloop.Fired {
				t.Fatalf("watcher %v, want Fired", got)
			}
		}
		if err := v.Destroy(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := rx.GetPacket(make([]byte, 2048)); !errors.Is(err, dtlsrx.ErrNoPacket) {
			t.Fatalf("%s: DTLS[rx] GetPacket after its VMP[rx]'s Destroy = %v, want ErrNoPacket", state, err)
		}
	}
}

// TestPortReadsCallersNeverRead: in the default mode GetPacket, GetPackets
// and Status never touch the socket: with the port held (as its receive
// goroutine holds it while it reads) and a datagram of each kind waiting,
// they return at once with nothing; once the port is released the
// receive goroutine delivers both.
func TestPortReadsCallersNeverRead(t *testing.T) {
	v, rtp, rx := newMode(t, mediaport.Options{}, false)
	ev, _ := v.Event()
	waitStatus(t, ev, v.Status, vmprx.GotPorts)
	release := vmprx.HoldPorts(v)
	s := sender(t, lo4)
	s.WriteTo(dtlsRecord("r"), rtp)
	s.WriteTo(rtpPacket(1, 1, "m"), rtp)
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 2048)
		if _, _, err := rx.GetPacket(buf); !errors.Is(err, dtlsrx.ErrNoPacket) {
			done <- fmt.Errorf("DTLS[rx] GetPacket = %v", err)
			return
		}
		if _, err := rx.GetPackets([][]byte{buf}, []int{0}, []netip.AddrPort{{}}); !errors.Is(err, dtlsrx.ErrNoPacket) {
			done <- fmt.Errorf("DTLS[rx] GetPackets = %v", err)
			return
		}
		if st, err := rx.Status(); st != dtlsrx.Running || err != nil {
			done <- fmt.Errorf("DTLS[rx] Status = %v, %v", st, err)
			return
		}
		if _, err := v.GetPacket(buf); !errors.Is(err, vmprx.ErrNoPacket) {
			done <- fmt.Errorf("VMP[rx] GetPacket = %v", err)
			return
		}
		if st, err := v.Status(); st != vmprx.Running || err != nil {
			done <- fmt.Errorf("VMP[rx] Status = %v, %v", st, err)
			return
		}
		done <- nil
	}()
	select {
	case err := <-done:
		release()
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		release()
		t.Fatal("a call waited for the port: it reads the socket")
	}
	waitStatus(t, ev, v.Status, vmprx.HasPacket)
	rev, _ := rx.Event()
	waitSignal(t, rev.C(), "DTLS[rx]")
	if n, _, err := rx.GetPacket(make([]byte, 2048)); err != nil || n != 14 {
		t.Fatalf("DTLS[rx] GetPacket = %d, %v", n, err)
	}
}
