package udp

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
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
		r, s := listenPair(t, loop)
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

// TestWaitReadable: WaitReadable returns once a datagram is queued and
// leaves it queued for a Reader; while it waits, TryReadFD on the same
// socket does not wait for it (the poller admits one reader); Close ends
// it with net.ErrClosed.
func TestWaitReadable(t *testing.T) {
	r, _ := Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	s, _ := Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	defer s.Close()
	rd := NewReader(r, 4, 2048)
	waited := make(chan error, 1)
	go func() { waited <- r.WaitReadable() }()
	if n, err := rd.TryReadFD(r.FD()); n != 0 || err != nil {
		t.Fatalf("TryReadFD of an empty socket = %d, %v", n, err)
	}
	s.WriteTo([]byte("hello"), r.LocalAddr())
	select {
	case err := <-waited:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("WaitReadable did not return for a queued datagram")
	}
	if n, err := rd.TryReadFD(r.FD()); n != 1 || err != nil || string(rd.Msgs[0].Buf[:rd.Msgs[0].N]) != "hello" {
		t.Fatalf("TryReadFD after WaitReadable = %d, %v: the datagram was not left queued", n, err)
	}
	go func() { waited <- r.WaitReadable() }()
	r.Close()
	select {
	case err := <-waited:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("WaitReadable after Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not end WaitReadable")
	}
}

func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{os.NewSyscallError("recvmmsg", syscall.ECONNREFUSED), true},
		{os.NewSyscallError("recvfrom", syscall.EHOSTUNREACH), true},
		{syscall.ENETUNREACH, true},
		{os.NewSyscallError("recvmmsg", syscall.ENOTSOCK), false},
		{os.NewSyscallError("recvmmsg", syscall.EBADF), false},
		{net.ErrClosed, false},
		{errors.New("other"), false},
	} {
		if got := Transient(tc.err); got != tc.want {
			t.Errorf("Transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
