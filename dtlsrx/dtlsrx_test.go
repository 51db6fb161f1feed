package dtlsrx_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"go.uber.org/goleak"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/internal/udp"
	"github.com/mediaport/mediaport/vmprx"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// setup returns a DTLS[rx] fed by a VMP[rx] on an rtcp-mux port, and a
// socket that sends to that port.
func setup(t *testing.T, opts dtlsrx.Options) (*mediaport.Module, *dtlsrx.DTLSRx, *vmprx.VMPRx, func([]byte)) {
	t.Helper()
	mod, err := mediaport.OpenModule(mediaport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mod.Close() })
	v, _ := vmprx.Create(mod)
	if err := v.Config(vmprx.Config{Local: netip.MustParseAddr("127.0.0.1"), RTCPMux: true}); err != nil {
		t.Fatal(err)
	}
	rx, err := dtlsrx.Create(mod, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.ConfigDTLS(rx, false); err != nil {
		t.Fatal(err)
	}
	port, _, _ := v.Ports()
	s, err := udp.Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return mod, rx, v, func(p []byte) { s.WriteTo(p, port) }
}

func record(i int) []byte {
	payload := fmt.Sprintf("record %03d", i)
	return append([]byte{23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, byte(i), 0, byte(len(payload))}, payload...)
}

func waitFor(t *testing.T, rx *dtlsrx.DTLSRx, want dtlsrx.Status) []dtlsrx.Status {
	t.Helper()
	ev, _ := rx.Event()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	var seen []dtlsrx.Status
	for {
		st, err := rx.Status()
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, st)
		if st == want {
			return seen
		}
		if err := ev.Wait(ctx); err != nil {
			t.Fatalf("waiting for %v, saw %v", want, seen)
		}
	}
}

func TestStatusTransitions(t *testing.T) {
	_, rx, _, send := setup(t, dtlsrx.Options{})
	if st, err := rx.Status(); st != dtlsrx.Running || err != nil {
		t.Fatalf("new DTLS[rx]: %v %v", st, err)
	}
	send(record(1))
	send(record(2))
	waitFor(t, rx, dtlsrx.HasPacket)
	buf := make([]byte, 100)
	for i := 1; i <= 2; i++ {
		n, src, err := rx.GetPacket(buf)
		if errors.Is(err, dtlsrx.ErrNoPacket) && i == 2 {
			// The second record may come in a later batch than the first.
			waitFor(t, rx, dtlsrx.HasPacket)
			n, src, err = rx.GetPacket(buf)
		}
		if err != nil || !bytes.Equal(buf[:n], record(i)) || !src.IsValid() {
			t.Fatalf("GetPacket %d = %q %v %v", i, buf[:n], src, err)
		}
	}
	if st, _ := rx.Status(); st != dtlsrx.Running {
		t.Fatalf("status after draining: %v", st)
	}
	if _, _, err := rx.GetPacket(buf); !errors.Is(err, dtlsrx.ErrNoPacket) {
		t.Fatalf("GetPacket on empty: %v", err)
	}
	st, _ := rx.Stats()
	if st.Packets != 2 || st.Bytes != uint64(2*len(record(1))) {
		t.Fatalf("stats %+v", st)
	}
}

func TestBufferTooSmall(t *testing.T) {
	_, rx, _, send := setup(t, dtlsrx.Options{})
	send(record(7))
	waitFor(t, rx, dtlsrx.HasPacket)
	n, _, err := rx.GetPacket(make([]byte, 4))
	if !errors.Is(err, mediaport.ErrBufferTooSmall) || n != len(record(7)) {
		t.Fatalf("short buffer: n=%d err=%v, want the packet length and ErrBufferTooSmall", n, err)
	}
	buf := make([]byte, 100)
	n, _, err = rx.GetPacket(buf)
	if err != nil || !bytes.Equal(buf[:n], record(7)) {
		t.Fatalf("packet lost after the short buffer: %q %v", buf[:n], err)
	}
}

func TestOverrunOncePerEpisode(t *testing.T) {
	_, rx, v, send := setup(t, dtlsrx.Options{QueueLen: 4})
	for i := 0; i < 50; i++ {
		send(record(i))
	}
	// 50 small datagrams fit the socket buffer: the kernel drops none.
	testutil.Eventually(t, testutil.Patience, func() bool { st, _ := rx.Stats(); return st.Packets+st.Overrun == 50 },
		"not all 50 records were queued or counted as overrun")
	if st, _ := rx.Stats(); st.Packets != 4 {
		t.Fatalf("stats %+v: want 4 queued", st)
	}
	if vs, _ := v.Stats(); vs.DTLSRefused != 46 {
		t.Fatalf("VMP[rx] counted %d refused, want 46", vs.DTLSRefused)
	}
	if st, _ := rx.Status(); st != dtlsrx.Overrun {
		t.Fatalf("status after the flood: %v", st)
	}
	buf := make([]byte, 100)
	for i := 0; i < 4; i++ {
		if st, _ := rx.Status(); st != dtlsrx.HasPacket {
			t.Fatalf("status %d: %v (Overrun must be reported once)", i, st)
		}
		n, _, err := rx.GetPacket(buf)
		if err != nil || !bytes.Equal(buf[:n], record(i)) {
			t.Fatalf("packet %d = %q: the first packets must be kept in order", i, buf[:n])
		}
	}
	for i := 0; i < 10; i++ {
		send(record(i))
	}
	waitFor(t, rx, dtlsrx.Overrun)
}

func TestStopAndDestroy(t *testing.T) {
	_, rx, v, send := setup(t, dtlsrx.Options{})
	send(record(1))
	waitFor(t, rx, dtlsrx.HasPacket)
	if err := rx.Stop(); err != nil {
		t.Fatal(err)
	}
	ev, _ := rx.Event()
	if st, _ := rx.Status(); st != dtlsrx.Stopped || !ev.Permanent() {
		t.Fatalf("after Stop: %v", st)
	}
	send(record(2)) // refused: stopped
	testutil.Eventually(t, testutil.Patience, func() bool { vs, _ := v.Stats(); return vs.DTLSRefused == 1 },
		"VMP[rx]: the record sent after Stop must be refused")
	buf := make([]byte, 100)
	if n, _, err := rx.GetPacket(buf); err != nil || !bytes.Equal(buf[:n], record(1)) {
		t.Fatalf("packet queued before Stop: %q %v", buf[:n], err)
	}
	if _, _, err := rx.GetPacket(buf); !errors.Is(err, mediaport.ErrStopped) {
		t.Fatalf("GetPacket after Stop, drained: %v", err)
	}
	if err := rx.Destroy(); err != nil {
		t.Fatal(err)
	}
	_, err1 := rx.Status()
	_, _, err2 := rx.GetPacket(buf)
	_, err3 := rx.Event()
	_, err4 := rx.Stats()
	for i, err := range []error{err1, err2, err3, err4, rx.Stop(), rx.Destroy()} {
		if !errors.Is(err, mediaport.ErrDestroyed) {
			t.Errorf("call %d after Destroy: %v", i, err)
		}
	}
	var nilRx *dtlsrx.DTLSRx
	if _, err := nilRx.Status(); !errors.Is(err, mediaport.ErrNilHandle) {
		t.Errorf("nil: %v", err)
	}
	if _, err := dtlsrx.Create(nil); !errors.Is(err, mediaport.ErrNilModule) {
		t.Errorf("Create(nil): %v", err)
	}
	mod, _ := mediaport.OpenModule(mediaport.Options{})
	if _, err := dtlsrx.Create(mod, dtlsrx.Options{QueueLen: -1}); !errors.Is(err, mediaport.ErrInvalidArgument) {
		t.Errorf("negative QueueLen: %v", err)
	}
	mod.Close()
	if _, err := dtlsrx.Create(mod); !errors.Is(err, mediaport.ErrClosed) {
		t.Errorf("Create after Close: %v", err)
	}
}
