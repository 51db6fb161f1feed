package vmprx

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/mediaport/mediaport"
)

// TestRTCPNotStarvedByRTPBurst routes, in arrival order and with no
// reader popping, a burst of RTP three times the queue with an RTCP
// sender report in its middle (after the queue is full), and then a flood
// of RTCP. Counted, not timed: the queue keeps the first QueueLen RTP
// packets and refuses the rest (Overrun), the SR is queued in the room
// RTCP keeps, and RTCP alone is refused only once RTCPQueueLen RTCP
// packets wait. Both layouts: rtcp-mux (one socket, the order of the
// wire) and separate ports.
func TestRTCPNotStarvedByRTPBurst(t *testing.T) {
	for _, mux := range []bool{true, false} {
		t.Run(map[bool]string{true: "Mux", false: "SeparatePorts"}[mux], func(t *testing.T) {
			mod, err := mediaport.OpenModule(mediaport.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer mod.Close()
			v, _ := Create(mod)
			const queueLen, rtcpLen, burst = 16, 4, 48
			if err := v.Config(Config{Local: netip.MustParseAddr("127.0.0.1"), RTCPMux: mux,
				QueueLen: queueLen, RTCPQueueLen: rtcpLen}); err != nil {
				t.Fatal(err)
			}
			rtcpPort := 1
			if mux {
				rtcpPort = 0
			}
			src := netip.MustParseAddrPort("192.0.2.1:4000")
			var b batch
			feed := func(port int, data []byte) bool {
				p := v.mod.Packets.Get()
				p.N, p.Src = copy(p.Buf, data), src
				taken := v.handle(port, p, false, &b)
				if !taken {
					v.mod.Packets.Put(p)
				}
				return taken
			}
			rtp := make([]byte, 1200)
			rtp[0] = 0x80
			binary.BigEndian.PutUint32(rtp[8:], 0x1234)
			sr := senderReport(0x1234)
			srTaken := false
			for i := range burst {
				binary.BigEndian.PutUint16(rtp[2:], uint16(i))
				if taken := feed(0, rtp); taken != (i < queueLen) {
					t.Fatalf("RTP %d of the burst taken %v with a queue of %d", i, taken, queueLen)
				}
				if i == 2*queueLen {
					srTaken = feed(rtcpPort, sr)
				}
			}
			v.endBatch(&b)
			if !srTaken {
				t.Fatal("the SR in the middle of an RTP burst was dropped with the RTP")
			}
			st, _ := v.Stats()
			if st.RTP != queueLen || st.RTCP != 1 || st.Overrun != burst-queueLen {
				t.Fatalf("stats %+v: want %d RTP, 1 RTCP, %d overrun", st, queueLen, burst-queueLen)
			}
			// RTCP's room is bounded too: rtcpLen RTCP packets in all.
			for i := 1; i < rtcpLen+3; i++ {
				if taken := feed(rtcpPort, sr); taken != (i < rtcpLen) {
					t.Fatalf("RTCP %d taken %v with %d of its own room", i+1, taken, rtcpLen)
				}
			}
			// The queue gives back what it kept, the SR where it arrived.
			buf := make([]byte, 2048)
			var classes []Class
			for {
				pkt, err := v.GetPacket(buf)
				if err != nil {
					break
				}
				classes = append(classes, pkt.Class)
			}
			if len(classes) != queueLen+rtcpLen || classes[queueLen] != ClassRTCP || classes[queueLen-1] != ClassRTP {
				t.Fatalf("popped %v", classes)
			}
			// Drained: RTP is taken again.
			if !feed(0, rtp) {
				t.Fatal("RTP refused by an empty queue")
			}
		})
	}
}

// senderReport is a minimal RTCP SR (no report blocks) from ssrc.
func senderReport(ssrc uint32) []byte {
	p := make([]byte, 28)
	p[0], p[1] = 0x80, 200
	binary.BigEndian.PutUint16(p[2:], 6)
	binary.BigEndian.PutUint32(p[4:], ssrc)
	return p
}
