package udp

import (
	"net/netip"
	"testing"

	"github.com/mediaport/mediaport/internal/benchpair"
)

// BenchmarkRead: draining a backlog of 64 datagrams of 1200 bytes with
// Reader (recvmmsg, 32 per call) against ReadFromUDPAddrPort one by one.
func BenchmarkRead(b *testing.B) {
	run := func(b *testing.B, read func(r *Conn, rd *Reader, buf []byte) int) {
		r, _ := Listen(netip.MustParseAddrPort("127.0.0.1:0"))
		defer r.Close()
		s, _ := Listen(netip.MustParseAddrPort("127.0.0.1:0"))
		defer s.Close()
		bt := NewBatch(s, r.LocalAddr(), 64)
		pkts := make([][]byte, 64)
		for i := range pkts {
			pkts[i] = make([]byte, 1200)
		}
		rd := NewReader(r, 32, 2048)
		buf := make([]byte, 2048)
		b.SetBytes(1200)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i += 64 {
			b.StopTimer()
			n := min(64, b.N-i)
			bt.Send(pkts[:n])
			b.StartTimer()
			for got := 0; got < n; {
				got += read(r, rd, buf)
			}
		}
	}
	benchpair.Run(b, func(b *testing.B) {
		run(b, func(_ *Conn, rd *Reader, _ []byte) int { n, _ := rd.Read(); return n })
	}, func(b *testing.B) {
		run(b, func(r *Conn, _ *Reader, buf []byte) int { r.c.ReadFromUDPAddrPort(buf); return 1 })
	})
}
