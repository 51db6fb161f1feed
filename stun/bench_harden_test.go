package stun

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v3"

	"github.com/mediaport/mediaport/internal/benchpair"
	"github.com/mediaport/mediaport/internal/clock"
)

// BenchmarkRefuseMalformed: a request whose attribute overruns it, as a
// flood sends it — refused by OnRxPkt (the answer budget spent, so
// suppressed), against pion/stun's Decode of the same bytes, which is
// where refusing it would start without the session.
func BenchmarkRefuseMalformed(b *testing.B) {
	pkt := unauthenticated()["attribute overrun"]
	benchpair.Run(b, func(b *testing.B) {
		clk := clock.NewFake(time.Unix(0, 0))
		s, _ := Create(Config{Clock: clk}, "server", Callbacks{
			OnSendMsg: func(*Session, any, []byte, netip.AddrPort) error { return nil },
		}, true)
		defer s.Destroy()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			s.OnRxPkt(pkt, IsDatagram, nil, benchSrc)
		}
		b.StopTimer()
		if st, _ := s.Stats(); st.Suppressed == 0 && b.N > 200 {
			b.Fatal("nothing suppressed")
		}
	}, func(b *testing.B) {
		m := new(stun.Message)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			m.Raw = append(m.Raw[:0], pkt...)
			if m.Decode() == nil {
				b.Fatal("decoded")
			}
		}
	})
}
