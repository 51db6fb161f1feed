package vmprx_test

import (
	"bytes"
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
	"github.com/mediaport/mediaport/vmprx"
)

// TestGetPacketReadsTheSocket: datagrams that the receive goroutine has
// left in the socket (it found the port being read and stepped back) are
// read by GetPacket itself, on the caller's goroutine, and routed as the
// receive goroutine would: RTP to the VMP[rx]'s queue in order, DTLS to
// its DTLS[rx], STUN to the handler — with no further traffic to wake
// anything.
func TestGetPacketReadsTheSocket(t *testing.T) {
	v, rtp, rx := newPassThrough(t, mediaport.Options{})
	var stun atomic.Int32
	v.SetSTUNHandler(func([]byte, netip.AddrPort, bool) { stun.Add(1) })
	s := sender(t, lo4)
	err := vmprx.StrandRTPPort(v, func() {
		s.WriteTo(rtpPacket(7, 1, "one"), rtp)
		s.WriteTo(dtlsRecord("hello"), rtp)
		s.WriteTo(stunBinding(), rtp)
		s.WriteTo(rtpPacket(7, 2, "two"), rtp)
	}, vmprx.Stranded)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // nobody reads meanwhile
	if st, _ := v.Stats(); st.RTP+st.DTLS+st.STUN != 0 {
		t.Fatalf("read before GetPacket: %+v", st)
	}
	buf := make([]byte, 2048)
	for _, seq := range []uint16{1, 2} {
		pkt, err := v.GetPacket(buf)
		if err != nil || pkt.Class != vmprx.ClassRTP || binary.BigEndian.Uint16(buf[2:4]) != seq || pkt.Src != s.LocalAddr() {
			t.Fatalf("GetPacket = %+v, %v (seq %d); want RTP seq %d from %v", pkt, err, binary.BigEndian.Uint16(buf[2:4]), seq, s.LocalAddr())
		}
	}
	if n, _, err := rx.GetPacket(buf); err != nil || string(buf[13:n]) != "hello" {
		t.Fatalf("DTLS[rx] GetPacket = %q, %v", buf[:n], err)
	}
	if stun.Load() != 1 {
		t.Fatalf("STUN handler called %d times, want 1", stun.Load())
	}
	if _, err := v.GetPacket(buf); !errors.Is(err, vmprx.ErrNoPacket) {
		t.Fatalf("GetPacket on an empty port = %v", err)
	}
	// The receive goroutine still reads new traffic by itself.
	ev, _ := v.Event()
	s.WriteTo(rtpPacket(7, 3, "three"), rtp)
	waitStatus(t, ev, v.Status, vmprx.HasPacket)
}

// TestDTLSRxGetPacketReadsTheSocket: the same through a DTLS[rx].
func TestDTLSRxGetPacketReadsTheSocket(t *testing.T) {
	mod := openModule(t, mediaport.Options{})
	v, rtp, _ := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: true})
	rx, _ := dtlsrx.Create(mod)
	v.ConfigDTLS(rx, true) // "the RTCP port" under rtcp-mux: the one port
	s := sender(t, lo4)
	if err := vmprx.StrandRTPPort(v, func() { s.WriteTo(dtlsRecord("x"), rtp) }, vmprx.Stranded); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	if n, src, err := rx.GetPacket(buf); err != nil || string(buf[13:n]) != "x" || src != s.LocalAddr() {
		t.Fatalf("DTLS[rx] GetPacket = %q from %v, %v", buf[:n], src, err)
	}
	// RTP first, then DTLS: the datagram read into the DTLS[rx]'s buffer
	// is not its own, so it goes to the VMP[rx]'s queue; the record follows
	// through the DTLS[rx]'s queue. And with a buffer too short for any
	// datagram, nothing is read into it.
	err := vmprx.StrandRTPPort(v, func() {
		s.WriteTo(rtpPacket(3, 1, "media"), rtp)
		s.WriteTo(dtlsRecord("y"), rtp)
		s.WriteTo(dtlsRecord("zz"), rtp)
	}, vmprx.Stranded)
	if err != nil {
		t.Fatal(err)
	}
	if n, _, err := rx.GetPacket(buf); err != nil || string(buf[13:n]) != "y" {
		t.Fatalf("DTLS[rx] GetPacket after RTP = %q, %v", buf[:n], err)
	}
	small := make([]byte, 100)
	if n, _, err := rx.GetPacket(small); err != nil || string(small[13:n]) != "zz" {
		t.Fatalf("DTLS[rx] GetPacket into 100 bytes = %q, %v", small[:n], err)
	}
	if pkt, err := v.GetPacket(buf); err != nil || pkt.Class != vmprx.ClassRTP || string(buf[12:pkt.Len]) != "media" {
		t.Fatalf("VMP[rx] GetPacket = %+v %q, %v", pkt, buf[:pkt.Len], err)
	}
	if st, _ := v.Stats(); st.DTLS != 3 || st.RTP != 1 {
		t.Fatalf("VMP[rx] stats %+v", st)
	}
	if st, _ := rx.Stats(); st.Packets != 3 || st.Bytes != 13+1+13+1+13+2 {
		t.Fatalf("DTLS[rx] stats %+v", st)
	}
	// Detached: the DTLS[rx] no longer reads the port.
	v.ConfigDTLS(nil, true)
	if err := vmprx.StrandRTPPort(v, func() { s.WriteTo(dtlsRecord("y"), rtp) }, vmprx.Stranded); err != nil {
		t.Fatal(err)
	}
	if _, _, err := rx.GetPacket(buf); !errors.Is(err, dtlsrx.ErrNoPacket) {
		t.Fatalf("detached DTLS[rx] GetPacket = %v, want ErrNoPacket", err)
	}
	if st, _ := v.Stats(); st.DTLS != 3 { // the last record is still in the socket
		t.Fatalf("the detached DTLS[rx] read the port: %+v", st)
	}
}

// TestLease: a poller that read a full batch leaves the port leased to the
// pollers. While polls keep coming, the receive goroutine (which woke for
// the backlog and stepped back) reads nothing: every poll reads exactly one
// batch. When the polls stop, it reads the rest by itself once the lease
// time has passed without a poll — not before — and signals it: all
// arrive, in order, none lost or repeated, with no further GetPacket.
func TestLease(t *testing.T) {
	const n, batch, lease = 150, 8, 500 * time.Millisecond
	mod := openModule(t, mediaport.Options{Batch: batch})
	v, rtp, _ := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: true, QueueLen: 2 * n})
	vmprx.SetLease(v, lease)
	s := sender(t, lo4)
	err := vmprx.StrandRTPPort(v, func() {
		for i := 0; i < n; i++ {
			s.WriteTo(rtpPacket(9, uint16(i), "x"), rtp)
		}
	}, vmprx.Leased)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	want := 0
	get := func() {
		pkt, err := v.GetPacket(buf)
		if err != nil || pkt.Class != vmprx.ClassRTP || binary.BigEndian.Uint16(buf[2:4]) != uint16(want) {
			t.Fatalf("packet %d: %+v seq %d, %v: order lost", want, pkt, binary.BigEndian.Uint16(buf[2:4]), err)
		}
		want++
	}
	// Three polls, 10 ms apart, each reading one batch: the first packet of
	// a batch is returned and the rest queued, and read before the next poll.
	var lastPoll time.Time
	for polls := 1; polls <= 3; polls++ {
		lastPoll = time.Now() // no later than the lease the next get sets
		for range batch {
			get()
		}
		if st, _ := v.Stats(); st.RTP != uint64(polls*batch) {
			t.Fatalf("after %d polls of %d: %d packets read; the receive goroutine read the leased port", polls, batch, st.RTP)
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitTakeOver(t, v, n, lastPoll, lease)
	for want < n {
		get()
	}
	if _, err := v.GetPacket(buf); !errors.Is(err, vmprx.ErrNoPacket) {
		t.Fatalf("GetPacket after all %d = %v", n, err)
	}
	if st, _ := v.Stats(); st.RTP != n || st.Overrun != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// waitTakeOver waits, on v's event alone, until v has routed rtp RTP
// packets — the receive goroutine read what the pollers left — and checks
// that this came no sooner than the lease time after lastPoll.
func waitTakeOver(t *testing.T, v *vmprx.VMPRx, rtp uint64, lastPoll time.Time, lease time.Duration) {
	t.Helper()
	ev, _ := v.Event()
	deadline := time.After(10 * time.Second)
	for st, _ := v.Stats(); st.RTP != rtp; st, _ = v.Stats() {
		select {
		case <-ev.C():
		case <-deadline:
			t.Fatalf("the receive goroutine did not take the port over: %+v", st)
		}
	}
	if since := time.Since(lastPoll); since < lease {
		t.Fatalf("the receive goroutine read the leased port %v after the last poll, before the lease time (%v)", since, lease)
	}
}

// TestLeaseBoundsOthersWait: a DTLS[rx] that polls a full batch and then
// stops reading leases the port, so the RTP behind its records waits for
// the receive goroutine — for the lease time after the last poll, and no
// longer than a few: the VMP[rx]'s application, which only waits for its
// event, gets every RTP packet, in order, without polling.
func TestLeaseBoundsOthersWait(t *testing.T) {
	const lease = 100 * time.Millisecond
	v, rtp, rx := newPassThrough(t, mediaport.Options{Batch: 4})
	vmprx.SetLease(v, lease)
	s := sender(t, lo4)
	err := vmprx.StrandRTPPort(v, func() {
		for i := range 6 {
			s.WriteTo(dtlsRecord(fmt.Sprint(i)), rtp)
		}
		for i := range 3 {
			s.WriteTo(rtpPacket(5, uint16(i), "m"), rtp)
		}
	}, vmprx.Leased)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	polled := time.Now() // no later than the lease the poll sets
	if n, _, err := rx.GetPacket(buf); err != nil || string(buf[13:n]) != "0" {
		t.Fatalf("DTLS[rx] GetPacket = %q, %v", buf[:n], err)
	}
	// A full batch of records: leased; the DTLS[rx] reads no more.
	waitTakeOver(t, v, 3, polled, lease)
	for i := range 3 {
		if pkt, err := v.GetPacket(buf); err != nil || pkt.Class != vmprx.ClassRTP || binary.BigEndian.Uint16(buf[2:4]) != uint16(i) {
			t.Fatalf("VMP[rx] GetPacket %d = %+v, %v", i, pkt, err)
		}
	}
	for i := 1; i < 6; i++ { // and the records, queued for the DTLS[rx]
		if n, _, err := rx.GetPacket(buf); err != nil || string(buf[13:n]) != fmt.Sprint(i) {
			t.Fatalf("DTLS[rx] GetPacket %d = %q, %v", i, buf[:n], err)
		}
	}
}

// TestPollForOthersReadsOn: a DTLS[rx]'s poll that reads a full batch with
// nothing for it (RTP only) does not lease the port, since its caller
// gets ErrNoPacket and waits for its event; when the receive goroutine
// stepped back meanwhile, the poll reads on, so the records behind the
// RTP come back at once rather than after the lease time (an hour here).
// The RTP goes to the VMP[rx]'s queue, in order.
func TestPollForOthersReadsOn(t *testing.T) {
	v, rtp, rx := newPassThrough(t, mediaport.Options{Batch: 4})
	s := sender(t, lo4)
	err := vmprx.StrandRTPPort(v, func() {
		for i := range 8 {
			s.WriteTo(rtpPacket(4, uint16(i), "m"), rtp)
		}
		s.WriteTo(dtlsRecord("d1"), rtp)
		s.WriteTo(dtlsRecord("d2"), rtp)
	}, vmprx.SteppedBack)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	for _, want := range []string{"d1", "d2"} {
		if n, _, err := rx.GetPacket(buf); err != nil || string(buf[13:n]) != want {
			t.Fatalf("DTLS[rx] GetPacket = %q, %v; want %s", buf[:n], err, want)
		}
	}
	for i := range 8 {
		if pkt, err := v.GetPacket(buf); err != nil || pkt.Class != vmprx.ClassRTP || binary.BigEndian.Uint16(buf[2:4]) != uint16(i) {
			t.Fatalf("VMP[rx] GetPacket %d = %+v, %v", i, pkt, err)
		}
	}
}

// TestGRO: with Config.GRO, a batch sent with segmentation offload reaches
// the port coalesced and is split again: every RTP packet in order to the
// queue, every DTLS record to the DTLS[rx], an empty datagram counted as
// short — on the receive goroutine and through GetPacket's own reads.
func TestGRO(t *testing.T) {
	for _, loop := range []netip.Addr{lo4, netip.IPv6Loopback()} {
		mod := openModule(t, mediaport.Options{QueueLen: 512})
		v, err := vmprx.Create(mod)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Config(vmprx.Config{Local: loop, RTCPMux: true, GRO: true}); err != nil {
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
		deadline := time.After(10 * time.Second)
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
}

// TestDirectReadTooLong: a record longer than the module's MaxPacket that
// fits the buffer a DTLS[rx]'s GetPacket reads into is dropped and counted
// as truncated, as the receive goroutine would — not returned, no panic.
func TestDirectReadTooLong(t *testing.T) {
	v, rtp, rx := newPassThrough(t, mediaport.Options{MaxPacket: 1500})
	s := sender(t, lo4)
	err := vmprx.StrandRTPPort(v, func() {
		s.WriteTo(dtlsRecord(string(bytes.Repeat([]byte{'x'}, 200))+string(make([]byte, 2000))), rtp)
		s.WriteTo(dtlsRecord("ok"), rtp)
	}, vmprx.Stranded)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	if n, _, err := rx.GetPacket(buf); err != nil || string(buf[13:n]) != "ok" {
		t.Fatalf("GetPacket = %d bytes, %v; want the short record", n, err)
	}
	if st, _ := v.Stats(); st.Truncated != 1 || st.DTLS != 1 {
		t.Fatalf("stats %+v: want the long record counted as truncated", st)
	}
}

// TestPollersAndReceiveGoroutine: while a sender streams RTP and DTLS
// interleaved on one port, one goroutine reads the VMP[rx] and another the
// DTLS[rx], each polling the port whenever its queue is empty, against the
// receive goroutine: every packet of each kind arrives exactly once and in
// order, and the STUN handler (run by whichever goroutine read the port)
// sees every STUN datagram once.
func TestPollersAndReceiveGoroutine(t *testing.T) {
	const n = 3000
	mod := openModule(t, mediaport.Options{QueueLen: 4096, Batch: 8})
	v, rtp, _ := newVMP(t, mod, vmprx.Config{Local: lo4, RTCPMux: true, QueueLen: 4096})
	rx, _ := dtlsrx.Create(mod, dtlsrx.Options{QueueLen: 4096})
	v.ConfigDTLS(rx, false)
	var stunSeen atomic.Int32
	v.SetSTUNHandler(func([]byte, netip.AddrPort, bool) { stunSeen.Add(1) })
	s := sender(t, lo4)
	go func() {
		for i := 0; i < n; i++ {
			s.WriteTo(rtpPacket(1, uint16(i), "m"), rtp)
			s.WriteTo(dtlsRecord(fmt.Sprint(i)), rtp)
			if i%10 == 0 {
				s.WriteTo(stunBinding(), rtp)
			}
			if i%20 == 19 {
				time.Sleep(time.Millisecond) // stay within the socket buffer
			}
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	errc := make(chan error, 2)
	vev, _ := v.Event()
	go func() {
		errc <- readInOrder("RTP", n, vev.C(), deadline, func(buf []byte, want int) error {
			pkt, err := v.GetPacket(buf)
			if err != nil {
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
		errc <- readInOrder("DTLS", n, rev.C(), deadline, func(buf []byte, want int) error {
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
	for st, _ := v.Stats(); st.STUN != n/10; st, _ = v.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("STUN: %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
	if got := stunSeen.Load(); got != n/10 {
		t.Fatalf("STUN handler called %d times, want %d", got, n/10)
	}
}

// readInOrder calls get for packets 0 to n-1 in turn, waiting on ready
// whenever get reports no packet (an error matching vmprx.ErrNoPacket or
// dtlsrx.ErrNoPacket), until deadline. get returns an error, too, when the
// packet it read is not number want.
func readInOrder(what string, n int, ready <-chan struct{}, deadline time.Time, get func(buf []byte, want int) error) error {
	buf := make([]byte, 2048)
	for want := 0; want < n; {
		err := get(buf, want)
		if errors.Is(err, vmprx.ErrNoPacket) || errors.Is(err, dtlsrx.ErrNoPacket) {
			select {
			case <-ready:
			case <-time.After(time.Until(deadline)):
				return fmt.Errorf("%s: stuck at %d of %d", what, want, n)
			}
			continue
		}
		if err != nil {
			return err
		}
		want++
	}
	return nil
}

// TestDTLSRxGetPackets: GetPackets returns the records queued first, then
// reads the port straight into the caller's buffers; a datagram that is not
// the DTLS[rx]'s (RTP) ends that run and is routed, and the records after
// it come through the queue — all in order, none lost. A buffer too short
// ends the batch and keeps the packet; bad arguments are refused.
func TestDTLSRxGetPackets(t *testing.T) {
	v, rtp, rx := newPassThrough(t, mediaport.Options{Batch: 8})
	s := sender(t, lo4)
	s.WriteTo(dtlsRecord("q1"), rtp) // nobody polls: the receive goroutine queues them
	s.WriteTo(dtlsRecord("q2"), rtp)
	waitStats(t, v, func(st vmprx.Stats) bool { return st.DTLS == 2 })
	err := vmprx.StrandRTPPort(v, func() {
		s.WriteTo(dtlsRecord("d1"), rtp)
		s.WriteTo(dtlsRecord("d2"), rtp)
		s.WriteTo(rtpPacket(9, 1, "media"), rtp) // read into the caller's third buffer
		for _, p := range []string{"d3", "d4", "d5"} {
			s.WriteTo(dtlsRecord(p), rtp)
		}
	}, vmprx.Stranded)
	if err != nil {
		t.Fatal(err)
	}
	bufs := make([][]byte, 6)
	for i := range bufs {
		bufs[i] = make([]byte, 2048)
	}
	sizes, srcs := make([]int, 6), make([]netip.AddrPort, 6)
	var got []string
	collect := func(n int) {
		for i := range n {
			if srcs[i] != s.LocalAddr() {
				t.Fatalf("packet %d from %v, want %v", i, srcs[i], s.LocalAddr())
			}
			got = append(got, string(bufs[i][13:sizes[i]]))
		}
	}
	n, err := rx.GetPackets(bufs, sizes, srcs)
	if err != nil || n != 6 {
		t.Fatalf("GetPackets = %d, %v; want 6", n, err)
	}
	collect(n)
	if n, err = rx.GetPackets(bufs, sizes, srcs); err != nil || n != 1 {
		t.Fatalf("second GetPackets = %d, %v; want the last record", n, err)
	}
	collect(n)
	if want := "q1 q2 d1 d2 d3 d4 d5"; fmt.Sprint(got) != "["+want+"]" {
		t.Fatalf("records %v, want [%s]", got, want)
	}
	if _, err := rx.GetPackets(bufs, sizes, srcs); !errors.Is(err, dtlsrx.ErrNoPacket) {
		t.Fatalf("GetPackets with nothing left = %v, want ErrNoPacket", err)
	}
	if pkt, err := v.GetPacket(bufs[0]); err != nil || pkt.Class != vmprx.ClassRTP || string(bufs[0][12:pkt.Len]) != "media" {
		t.Fatalf("VMP[rx] GetPacket = %+v, %v; want the RTP packet", pkt, err)
	}
	if st, _ := rx.Stats(); st.Packets != 7 || st.Bytes != 7*15 {
		t.Fatalf("DTLS[rx] stats %+v, want 7 packets of 15 bytes", st)
	}

	// Buffers too short: the packet stays queued until a buffer holds it.
	err = vmprx.StrandRTPPort(v, func() {
		s.WriteTo(dtlsRecord(string(make([]byte, 200))), rtp)
		s.WriteTo(dtlsRecord("x"), rtp)
	}, vmprx.Stranded)
	if err != nil {
		t.Fatal(err)
	}
	small := [][]byte{make([]byte, 100)}
	if n, err := rx.GetPackets(small, sizes, srcs); n != 0 || !errors.Is(err, mediaport.ErrBufferTooSmall) || sizes[0] != 213 {
		t.Fatalf("GetPackets into 100 bytes = %d, %v, size %d; want 0, ErrBufferTooSmall, 213", n, err, sizes[0])
	}
	if n, err := rx.GetPackets([][]byte{bufs[0], make([]byte, 10)}, sizes, srcs); n != 1 || err != nil || sizes[0] != 213 {
		t.Fatalf("GetPackets into 2048 and 10 bytes = %d, %v, size %d; want the 213-byte record alone", n, err, sizes[0])
	}
	if n, err := rx.GetPackets(bufs[:1], sizes, srcs); n != 1 || err != nil || string(bufs[0][13:sizes[0]]) != "x" {
		t.Fatalf("GetPackets = %d, %v; want the record the short buffer left", n, err)
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
