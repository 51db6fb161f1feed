package association_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/vmprx"
)

var lo4 = netip.MustParseAddr("127.0.0.1")

func openModule(t testing.TB) *mediaport.Module {
	t.Helper()
	mod, err := mediaport.OpenModule(mediaport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mod.Close() })
	return mod
}

// openModuleClock opens a module (closed at cleanup) on clk.
func openModuleClock(t testing.TB, clk mediaport.Clock) *mediaport.Module {
	t.Helper()
	mod, err := mediaport.OpenModule(mediaport.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mod.Close() })
	return mod
}

// certModule opens a module (closed at cleanup) holding one self-signed
// ECDSA credential under tag 1, the setup most tests share.
func certModule(t testing.TB) *mediaport.Module {
	t.Helper()
	mod := openModule(t)
	addECDSA(t, mod, 1, mediaport.ECDSA{Certificate: newCert(t).TLS})
	return mod
}

// side is a media endpoint: VMP[rx] on an rtcp-mux port, DTLS[rx] attached,
// DTLS[tx] from the same port.
type side struct {
	mod  *mediaport.Module
	v    *vmprx.VMPRx
	rx   *dtlsrx.DTLSRx
	tx   *dtlstx.DTLSTx
	port netip.AddrPort
	a    *association.Association
}

func newSide(t testing.TB, mod *mediaport.Module) *side {
	t.Helper()
	s := newPort(t, mod)
	s.endpoints(t)
	return s
}

// newSideWith is newSide with the VMP[rx] configured as cfg.
func newSideWith(t testing.TB, mod *mediaport.Module, cfg vmprx.Config) *side {
	t.Helper()
	s := newPortWith(t, mod, cfg)
	s.endpoints(t)
	return s
}

// newPort returns a side with its VMP[rx] only (see endpoints).
func newPort(t testing.TB, mod *mediaport.Module) *side {
	t.Helper()
	return newPortWith(t, mod, vmprx.Config{Local: lo4, RTCPMux: true})
}

// newPortWith is newPort with the VMP[rx] configured as cfg.
func newPortWith(t testing.TB, mod *mediaport.Module, cfg vmprx.Config) *side {
	t.Helper()
	s := &side{mod: mod}
	var err error
	if s.v, err = vmprx.Create(mod); err != nil {
		t.Fatal(err)
	}
	if err := s.v.Config(cfg); err != nil {
		t.Fatal(err)
	}
	s.port, _, _ = s.v.Ports()
	return s
}

// endpoints creates the side's DTLS[rx], attached to its VMP[rx], and its
// DTLS[tx].
func (s *side) endpoints(t testing.TB) {
	t.Helper()
	var err error
	if s.rx, err = dtlsrx.Create(s.mod); err != nil {
		t.Fatal(err)
	}
	if err := s.v.ConfigDTLS(s.rx, false); err != nil {
		t.Fatal(err)
	}
	if s.tx, err = dtlstx.Create(s.mod); err != nil {
		t.Fatal(err)
	}
}

// bind points the DTLS[tx] at peer and binds the association.
func (s *side) bind(t testing.TB, peer netip.AddrPort, cfg association.Config) {
	t.Helper()
	if err := s.tx.Config(dtlstx.Config{Destination: peer, Local: s.port}); err != nil {
		t.Fatal(err)
	}
	a, err := association.Bind(s.rx, s.tx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.a = a
}

// waitRx waits until the DTLS[rx] reports want (or fails the test), and
// returns the statuses seen.
func (s *side) waitRx(t testing.TB, want dtlsrx.Status, limit time.Duration) ([]dtlsrx.Status, error) {
	t.Helper()
	ev, _ := s.rx.Event()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var seen []dtlsrx.Status
	for {
		st, err := s.rx.Status()
		if err != nil {
			t.Fatalf("Status: %v (its error means only that the call failed)", err)
		}
		seen = append(seen, st)
		if st == dtlsrx.Stopped {
			return seen, s.rx.Err() // why it ended
		}
		if st == want {
			return seen, nil
		}
		if err := ev.Wait(ctx); err != nil {
			t.Fatalf("waiting for %v: saw %v", want, seen)
		}
	}
}

// waitEstablished waits (at most testutil.Patience) for the handshake of
// every side.
func waitEstablished(t testing.TB, sides ...*side) {
	t.Helper()
	for i, s := range sides {
		if seen, err := s.waitRx(t, dtlsrx.Handshake, testutil.Patience); err != nil || seen[len(seen)-1] != dtlsrx.Handshake {
			t.Fatalf("side %d: statuses %v, %v: want Handshake", i, seen, err)
		}
	}
}

// sendTo sends msg as application data from s and fails the test unless
// to reads exactly msg.
func (s *side) sendTo(t testing.TB, to *side, msg string) {
	t.Helper()
	if err := s.tx.SendPacket([]byte(msg)); err != nil {
		t.Fatalf("SendPacket %q: %v", msg, err)
	}
	if got := to.read(t, testutil.Patience); got != msg {
		t.Fatalf("read %q, want %q", got, msg)
	}
}

// read waits for one application-data packet on the DTLS[rx].
func (s *side) read(t testing.TB, limit time.Duration) string {
	t.Helper()
	ev, _ := s.rx.Event()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	buf := make([]byte, 4096)
	for {
		n, _, err := s.rx.GetPacket(buf)
		if err == nil {
			return string(buf[:n])
		}
		if !errors.Is(err, dtlsrx.ErrNoPacket) {
			t.Fatalf("GetPacket: %v", err)
		}
		if err := ev.Wait(ctx); err != nil {
			st, serr := s.rx.Status()
			t.Fatalf("no application data (status %v %v)", st, serr)
		}
	}
}

func addECDSA(t testing.TB, mod *mediaport.Module, tag mediaport.CredTag, c mediaport.ECDSA) {
	t.Helper()
	if err := mod.AddCredential(mediaport.Credential{Tag: tag, Type: mediaport.CredECDSA, ECDSA: c}); err != nil {
		t.Fatal(err)
	}
}

func addPSK(t testing.TB, mod *mediaport.Module, tag mediaport.CredTag, id, key, hint string) {
	t.Helper()
	if err := mod.AddCredential(mediaport.Credential{Tag: tag, Type: mediaport.CredPSK,
		PSK: mediaport.PSK{Identity: []byte(id), Key: []byte(key), Hint: hint}}); err != nil {
		t.Fatal(err)
	}
}

func newCert(t testing.TB) testutil.Cert { return testutil.SelfSignedCert(t, "c") }
