package dispatcher_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dispatcher"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/internal/udp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func openModule(t testing.TB) *mediaport.Module {
	t.Helper()
	mod, err := mediaport.OpenModule(mediaport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mod.Close() })
	return mod
}

// receiver is a loopback socket that reports the TOS of what it receives.
func receiver(t testing.TB, loopback netip.Addr) *udp.Conn {
	t.Helper()
	r, err := udp.Listen(netip.AddrPortFrom(loopback, 0))
	if err != nil {
		if loopback.Is6() {
			t.Skipf("IPv6 loopback unavailable: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if err := r.EnableRecvTOS(); err != nil {
		t.Fatal(err)
	}
	return r
}

type received struct {
	data []byte
	src  netip.AddrPort
	tos  int
}

func recv(t testing.TB, r *udp.Conn) received {
	t.Helper()
	r.UDPConn().SetReadDeadline(time.Now().Add(testutil.Patience))
	buf := make([]byte, 2048)
	n, src, tos, err := r.ReadTOS(buf)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return received{data: buf[:n], src: src, tos: tos}
}

func TestSendIPv4AndIPv6WithTOS(t *testing.T) {
	for _, tc := range []struct {
		name     string
		loopback netip.Addr
		tos      int
	}{
		{"IPv4", netip.MustParseAddr("127.0.0.1"), 0xb8},
		{"IPv6", netip.IPv6Loopback(), 0x88},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mod := openModule(t)
			r := receiver(t, tc.loopback)
			d, err := dispatcher.Create(mod, dispatcher.Config{
				Destination: r.LocalAddr(),
				Local:       netip.AddrPortFrom(tc.loopback, 0),
				TOS:         tc.tos,
			})
			if err != nil {
				t.Fatal(err)
			}
			local, err := d.LocalAddr()
			if err != nil || local.Port() == 0 || local.Addr() != tc.loopback {
				t.Fatalf("LocalAddr = %v, %v: want %v with an allocated port", local, err, tc.loopback)
			}

			one := []byte("single datagram " + tc.name)
			if err := d.Send(one); err != nil {
				t.Fatal(err)
			}
			got := recv(t, r)
			if !bytes.Equal(got.data, one) || got.src != local || got.tos != tc.tos {
				t.Fatalf("received %q from %v tos %#x, want %q from %v tos %#x", got.data, got.src, got.tos, one, local, tc.tos)
			}

			// A batch larger than the module's batch size (32) goes out in
			// several sendmmsg calls, in order. (70 short datagrams fit the
			// receiver's socket buffer: none is dropped.)
			var pkts [][]byte
			for i := 0; i < 70; i++ {
				pkts = append(pkts, []byte(fmt.Sprintf("batch %02d", i)))
			}
			n, err := d.SendBatch(pkts)
			if err != nil || n != len(pkts) {
				t.Fatalf("SendBatch = %d, %v", n, err)
			}
			for i := range pkts {
				got := recv(t, r)
				if !bytes.Equal(got.data, pkts[i]) || got.src != local || got.tos != tc.tos {
					t.Fatalf("batch %d: received %q from %v tos %#x, want %q", i, got.data, got.src, got.tos, pkts[i])
				}
			}
			st, err := d.Stats()
			if err != nil || st.Packets != 71 || st.Errors != 0 {
				t.Fatalf("Stats = %+v, %v", st, err)
			}
			if err := d.Destroy(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSourceAddressAndPort(t *testing.T) {
	mod := openModule(t)
	r := receiver(t, netip.MustParseAddr("127.0.0.1"))

	// Zero Local: any address of the destination's family, allocated port.
	d, err := dispatcher.Create(mod, dispatcher.Config{Destination: r.LocalAddr()})
	if err != nil {
		t.Fatal(err)
	}
	local, _ := d.LocalAddr()
	if !local.Addr().IsUnspecified() || !local.Addr().Is4() || local.Port() == 0 {
		t.Fatalf("LocalAddr with zero Source = %v", local)
	}
	if err := d.Send([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, r); got.src.Port() != local.Port() {
		t.Fatalf("source port %d, LocalAddr says %d", got.src.Port(), local.Port())
	}

	// A given port is used: find a free one, release it, ask for it.
	probe, err := udp.Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	want := probe.LocalAddr()
	probe.Close()
	d2, err := dispatcher.Create(mod, dispatcher.Config{Destination: r.LocalAddr(), Local: want})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := d2.LocalAddr(); got != want {
		t.Fatalf("LocalAddr = %v, want %v", got, want)
	}
	if err := d2.Send([]byte("y")); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, r); got.src != want {
		t.Fatalf("received from %v, want %v", got.src, want)
	}
	// The same port again is a bind error, not a panic.
	if _, err := dispatcher.Create(mod, dispatcher.Config{Destination: r.LocalAddr(), Local: want}); err == nil {
		t.Fatal("second dispatcher on the same source port succeeded")
	}
}

func TestCreateErrors(t *testing.T) {
	mod := openModule(t)
	v4 := netip.MustParseAddrPort("127.0.0.1:4000")
	v6 := netip.MustParseAddrPort("[::1]:4000")
	for _, tc := range []struct {
		name string
		cfg  dispatcher.Config
		want error
	}{
		{"no destination", dispatcher.Config{}, mediaport.ErrInvalidArgument},
		{"destination port 0", dispatcher.Config{Destination: netip.MustParseAddrPort("127.0.0.1:0")}, mediaport.ErrInvalidArgument},
		{"unspecified destination", dispatcher.Config{Destination: netip.MustParseAddrPort("0.0.0.0:4000")}, mediaport.ErrInvalidArgument},
		{"IPv6 source, IPv4 destination", dispatcher.Config{Destination: v4, Local: netip.MustParseAddrPort("[::1]:0")}, mediaport.ErrAddressFamily},
		{"IPv4 source, IPv6 destination", dispatcher.Config{Destination: v6, Local: netip.MustParseAddrPort("127.0.0.1:0")}, mediaport.ErrAddressFamily},
		{"TOS too large", dispatcher.Config{Destination: v4, TOS: 256}, mediaport.ErrInvalidArgument},
		{"TOS negative", dispatcher.Config{Destination: v4, TOS: -1}, mediaport.ErrInvalidArgument},
	} {
		if _, err := dispatcher.Create(mod, tc.cfg); !errors.Is(err, tc.want) {
			t.Errorf("%s: Create = %v, want %v", tc.name, err, tc.want)
		}
	}
	if !errors.Is(mediaport.ErrAddressFamily, mediaport.ErrInvalidArgument) {
		t.Error("ErrAddressFamily does not match ErrInvalidArgument")
	}
	if _, err := dispatcher.Create(nil, dispatcher.Config{Destination: v4}); !errors.Is(err, mediaport.ErrNilModule) {
		t.Errorf("Create(nil module) = %v", err)
	}
	// An IPv4-mapped destination is IPv4.
	d, err := dispatcher.Create(mod, dispatcher.Config{Destination: netip.MustParseAddrPort("[::ffff:127.0.0.1]:4000")})
	if err != nil {
		t.Fatal(err)
	}
	if local, _ := d.LocalAddr(); !local.Addr().Is4() {
		t.Errorf("mapped destination bound %v, want IPv4", local)
	}
}

func TestLifecycle(t *testing.T) {
	mod := openModule(t)
	r := receiver(t, netip.MustParseAddr("127.0.0.1"))
	d, err := dispatcher.Create(mod, dispatcher.Config{Destination: r.LocalAddr()})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := d.Event()
	if err != nil {
		t.Fatal(err)
	}
	if st, err := d.Status(); st != dispatcher.Running || err != nil {
		t.Fatalf("Status = %v, %v, want Running", st, err)
	}
	select {
	case <-ev.C():
		t.Fatal("event signalled before anything happened")
	default:
	}
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(); err != nil {
		t.Fatalf("second Stop = %v", err)
	}
	if st, err := d.Status(); st != dispatcher.Stopped || err != nil {
		t.Fatalf("Status after Stop = %v, %v", st, err)
	}
	for i := 0; i < 3; i++ { // signalled permanently
		ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
		err := ev.Wait(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Wait %d after Stop: %v", i, err)
		}
	}
	if err := d.Send([]byte("late")); !errors.Is(err, mediaport.ErrStopped) {
		t.Fatalf("Send after Stop = %v, want ErrStopped", err)
	}
	if _, err := d.SendBatch([][]byte{[]byte("late")}); !errors.Is(err, mediaport.ErrStopped) {
		t.Fatalf("SendBatch after Stop = %v, want ErrStopped", err)
	}
	if err := d.Destroy(); err != nil {
		t.Fatal(err)
	}
	checkDestroyed(t, d)
	if mod.Endpoints() != 0 {
		t.Fatalf("module still has %d endpoints", mod.Endpoints())
	}
}

func checkDestroyed(t *testing.T, d *dispatcher.Dispatcher) {
	t.Helper()
	errs := map[string]error{}
	errs["Send"] = d.Send([]byte("x"))
	_, errs["SendBatch"] = d.SendBatch([][]byte{[]byte("x")})
	_, errs["Status"] = d.Status()
	_, errs["Event"] = d.Event()
	_, errs["LocalAddr"] = d.LocalAddr()
	_, errs["Stats"] = d.Stats()
	errs["Stop"] = d.Stop()
	errs["Destroy"] = d.Destroy()
	for name, err := range errs {
		if !errors.Is(err, mediaport.ErrDestroyed) {
			t.Errorf("%s after Destroy = %v, want ErrDestroyed", name, err)
		}
	}
}

func TestDestroyRunningStopsFirst(t *testing.T) {
	mod := openModule(t)
	r := receiver(t, netip.MustParseAddr("127.0.0.1"))
	d, err := dispatcher.Create(mod, dispatcher.Config{Destination: r.LocalAddr()})
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := d.Event()
	if err := d.Destroy(); err != nil {
		t.Fatal(err)
	}
	if !ev.Permanent() {
		t.Fatal("event of a destroyed running dispatcher is not signalled permanently")
	}
	checkDestroyed(t, d)
}

func TestNilHandle(t *testing.T) {
	for _, d := range []*dispatcher.Dispatcher{nil, {}} {
		errs := []error{d.Send(nil), d.Stop(), d.Destroy()}
		_, err := d.Status()
		errs = append(errs, err)
		_, err = d.Event()
		errs = append(errs, err)
		_, err = d.SendBatch(nil)
		errs = append(errs, err)
		_, err = d.LocalAddr()
		errs = append(errs, err)
		for i, err := range errs {
			if !errors.Is(err, mediaport.ErrNilHandle) {
				t.Errorf("call %d on %v handle = %v, want ErrNilHandle", i, d, err)
			}
		}
	}
}

func TestModuleCloseDestroysDispatchers(t *testing.T) {
	mod, err := mediaport.OpenModule(mediaport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := receiver(t, netip.MustParseAddr("127.0.0.1"))
	var ds []*dispatcher.Dispatcher
	for i := 0; i < 5; i++ {
		d, err := dispatcher.Create(mod, dispatcher.Config{Destination: r.LocalAddr()})
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	ev, _ := ds[0].Event()
	if err := mod.Close(); err != nil {
		t.Fatal(err)
	}
	if !ev.Permanent() {
		t.Fatal("event not signalled permanently after Module.Close")
	}
	for _, d := range ds {
		checkDestroyed(t, d)
	}
	if _, err := dispatcher.Create(mod, dispatcher.Config{Destination: r.LocalAddr()}); !errors.Is(err, mediaport.ErrClosed) {
		t.Fatalf("Create after Close = %v, want ErrClosed", err)
	}
	if err := mod.Close(); !errors.Is(err, mediaport.ErrClosed) {
		t.Fatalf("second Close = %v", err)
	}
}

func TestModuleLimit(t *testing.T) {
	mod, err := mediaport.OpenModule(mediaport.Options{MaxEndpoints: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	dst := netip.MustParseAddrPort("127.0.0.1:9")
	a, _ := dispatcher.Create(mod, dispatcher.Config{Destination: dst})
	if _, err := dispatcher.Create(mod, dispatcher.Config{Destination: dst}); err != nil {
		t.Fatal(err)
	}
	if _, err := dispatcher.Create(mod, dispatcher.Config{Destination: dst}); !errors.Is(err, mediaport.ErrLimit) {
		t.Fatalf("third Create = %v, want ErrLimit", err)
	}
	a.Destroy()
	if _, err := dispatcher.Create(mod, dispatcher.Config{Destination: dst}); err != nil {
		t.Fatalf("Create after a Destroy freed a slot: %v", err)
	}
}

// TestConcurrentSendAndStop: sends racing Stop and Destroy end with a
// lifecycle error, never a panic or a race.
func TestConcurrentSendAndStop(t *testing.T) {
	mod := openModule(t)
	r := receiver(t, netip.MustParseAddr("127.0.0.1"))
	for round := 0; round < 20; round++ {
		d, err := dispatcher.Create(mod, dispatcher.Config{Destination: r.LocalAddr()})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 2)
		for g := 0; g < 2; g++ {
			go func() {
				pkt := make([]byte, 100)
				for {
					var err error
					if g == 0 {
						err = d.Send(pkt)
					} else {
						_, err = d.SendBatch([][]byte{pkt, pkt})
					}
					if err != nil {
						done <- err
						return
					}
				}
			}()
		}
		time.Sleep(time.Millisecond)
		d.Destroy()
		for g := 0; g < 2; g++ {
			err := <-done
			if !errors.Is(err, mediaport.ErrStopped) && !errors.Is(err, mediaport.ErrDestroyed) {
				t.Fatalf("send racing Destroy = %v", err)
			}
		}
	}
}

func TestSendDoesNotAllocate(t *testing.T) {
	mod := openModule(t)
	r := receiver(t, netip.MustParseAddr("127.0.0.1"))
	d, err := dispatcher.Create(mod, dispatcher.Config{Destination: r.LocalAddr()})
	if err != nil {
		t.Fatal(err)
	}
	pkt := make([]byte, 1200)
	pkts := [][]byte{pkt, pkt, pkt, pkt}
	testutil.NoAllocs(t, "Send", func() { d.Send(pkt) })
	testutil.NoAllocs(t, "SendBatch", func() { d.SendBatch(pkts) })
}
