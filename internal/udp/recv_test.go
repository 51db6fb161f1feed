package udp

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/mediaport/mediaport/internal/testutil"
)

// TestReaderBatch checks every slot count path: batch receive (8 slots)
// and the one-slot Reader (recvfrom on Linux).
func TestReaderBatch(t *testing.T) {
	for _, slots := range []int{8, 1} {
		testReaderBatch(t, slots)
	}
}

func testReaderBatch(t *testing.T, slots int) {
	for _, loop := range []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()} {
		r, err := Listen(netip.AddrPortFrom(loop, 0))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		s, err := Listen(netip.AddrPortFrom(loop, 0))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		sent := [][]byte{[]byte("one"), {}, bytes.Repeat([]byte{7}, 100), []byte("four")}
		for _, p := range sent {
			if _, err := s.WriteTo(p, r.LocalAddr()); err != nil {
				t.Fatal(err)
			}
		}
		rd := NewReader(r, slots, 64) // the 100-byte datagram does not fit
		got := 0
		for got < len(sent) {
			r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := rd.Read()
			if err != nil || n > slots {
				t.Fatalf("%v, %d slots: Read = %d, %v", loop, slots, n, err)
			}
			for _, m := range rd.Msgs[:n] {
				want := sent[got]
				trunc := len(want) > 64
				if trunc {
					want = want[:64]
				}
				if !bytes.Equal(m.Buf[:m.N], want) || m.Trunc != trunc || m.Src != s.LocalAddr() {
					t.Fatalf("%v, %d slots: datagram %d: %q trunc=%v from %v; want %q trunc=%v from %v",
						loop, slots, got, m.Buf[:m.N], m.Trunc, m.Src, want, trunc, s.LocalAddr())
				}
				got++
			}
		}
	}
}

func TestReaderNoAllocsAndClose(t *testing.T) {
	r, _ := Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	s, _ := Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	defer s.Close()
	rd := NewReader(r, 4, 2048)
	pkt := make([]byte, 1200)
	testutil.NoAllocs(t, "send + Reader.Read", func() {
		s.WriteTo(pkt, r.LocalAddr())
		if n, err := rd.Read(); n != 1 || err != nil {
			t.Fatalf("Read = %d, %v", n, err)
		}
	})
	done := make(chan error)
	go func() { _, err := rd.Read(); done <- err }()
	time.Sleep(10 * time.Millisecond)
	r.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Read on a closed socket returned no error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock Read")
	}
}
