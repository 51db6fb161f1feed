package association_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/internal/clock"
	"github.com/mediaport/mediaport/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func leafKey(t testing.TB, c testutil.Cert) any {
	cert, err := x509.ParseCertificate(c.TLS.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return cert.PublicKey
}

// TestECDSAFingerprintSRTP: two mediaport sides, ECDSA certificates pinned
// by fingerprint as SDP carries them, DTLS-SRTP; the statuses, the keys,
// data both ways, close_notify.
func TestECDSAFingerprintSRTP(t *testing.T) {
	mod := openModule(t)
	certA, certB := testutil.SelfSignedCert(t, "a"), testutil.SelfSignedCert(t, "b")
	addECDSA(t, mod, 1, mediaport.ECDSA{Certificate: certA.TLS, PeerPublicKeys: []crypto.PublicKey{leafKey(t, certB)}})
	addECDSA(t, mod, 2, mediaport.ECDSA{Certificate: certB.TLS, PeerPublicKeys: []crypto.PublicKey{leafKey(t, certA)}})
	a, b := newSide(t, mod), newSide(t, mod)
	fpA, fpB := association.Fingerprint(certA.TLS.Certificate[0]), association.Fingerprint(certB.TLS.Certificate[0])
	profiles := []association.SRTPProfile{association.SRTP_AEAD_AES_128_GCM, association.SRTP_AES128_CM_HMAC_SHA1_80}

	// SendPacket before the handshake: not established, no capacity.
	b.bind(t, a.port, association.Config{Role: association.Server, Tags: []mediaport.CredTag{2},
		PeerFingerprints: []string{fpA}, VerifyPeerKey: true, SRTPProfiles: profiles})
	b.tx.ConfigNotify(1200, false)
	if st, _ := b.tx.Status(); st != dtlstx.Running {
		t.Fatalf("DTLS[tx] before the handshake: %v, want Running (no capacity)", st)
	}
	if err := b.tx.SendPacket([]byte("early")); !errors.Is(err, dtlstx.ErrNotEstablished) {
		t.Fatalf("SendPacket before the handshake: %v", err)
	}
	a.bind(t, b.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1},
		PeerFingerprints: []string{"a=fingerprint:" + fpB}, VerifyPeerKey: true, SRTPProfiles: profiles})

	for _, s := range []*side{a, b} {
		seen, err := s.waitRx(t, dtlsrx.Handshake, testutil.Patience)
		if err != nil || seen[len(seen)-1] != dtlsrx.Handshake {
			t.Fatalf("statuses %v, %v", seen, err)
		}
	}
	if st, _ := b.tx.Status(); st != dtlstx.HasCapacity {
		t.Fatalf("DTLS[tx] after the handshake: %v", st)
	}
	infoA, err := a.a.Info()
	if err != nil {
		t.Fatal(err)
	}
	infoB, _ := b.a.Info()
	if infoA.SRTPProfile != association.SRTP_AEAD_AES_128_GCM || infoA.PeerFingerprint != fpB || infoB.PeerFingerprint != fpA {
		t.Fatalf("info A %+v, B %+v", infoA, infoB)
	}
	if infoA.CipherSuiteName == "" || infoA.CipherSuite != infoB.CipherSuite {
		t.Fatalf("cipher suites %v / %v", infoA.CipherSuite, infoB.CipherSuite)
	}
	if err := a.a.VerifyPeerFingerprint(fpB); err != nil {
		t.Fatal(err)
	}
	if err := a.a.VerifyPeerFingerprint(fpA); !errors.Is(err, association.ErrFingerprint) {
		t.Fatalf("wrong fingerprint: %v", err)
	}
	ka, err := a.a.SRTPKeys()
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := b.a.SRTPKeys()
	if len(ka.Material) != 56 || !bytes.Equal(ka.Material, kb.Material) ||
		!bytes.Equal(ka.LocalKey, kb.RemoteKey) || !bytes.Equal(ka.LocalSalt, kb.RemoteSalt) ||
		!bytes.Equal(ka.RemoteKey, kb.LocalKey) || len(ka.LocalKey) != 16 || len(ka.LocalSalt) != 12 ||
		bytes.Equal(ka.LocalKey, ka.RemoteKey) {
		t.Fatalf("SRTP keys do not pair up: A %+v B %+v", ka, kb)
	}

	a.sendTo(t, b, "hello B")
	b.sendTo(t, a, "hello A")

	// Stop on A sends close_notify: B's DTLS[rx] stops cleanly.
	if err := a.tx.Stop(); err != nil {
		t.Fatal(err)
	}
	seen, err := b.waitRx(t, dtlsrx.Stopped, testutil.Patience)
	if err != nil || seen[len(seen)-1] != dtlsrx.Stopped {
		t.Fatalf("B after close_notify: %v %v", seen, err)
	}
	if st, _ := b.a.State(); st != association.Closed {
		t.Fatalf("B association %v", st)
	}
}

// TestPSKHint: PSK with a server hint; the client chooses by hint
// (docs/conformance.md, RIOT 4) and the server looks the identity up exactly (5).
func TestPSKHint(t *testing.T) {
	mod := openModule(t)
	addPSK(t, mod, 10, "server-known", "0123456789abcdef", "")
	addPSK(t, mod, 20, "other", "not-this-one", "otherhint")
	addPSK(t, mod, 21, "server-known", "0123456789abcdef", "serverhint")
	a, b := newSide(t, mod), newSide(t, mod)
	b.bind(t, a.port, association.Config{Role: association.Server, Tags: []mediaport.CredTag{10}, PSKHint: "serverhint"})
	a.bind(t, b.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{20, 21}})
	for _, s := range []*side{a, b} {
		if seen, err := s.waitRx(t, dtlsrx.Handshake, testutil.Patience); err != nil || seen[len(seen)-1] != dtlsrx.Handshake {
			t.Fatalf("statuses %v %v", seen, err)
		}
	}
	info, _ := a.a.Info()
	if info.PeerCertificate != nil || info.CipherSuiteName == "" {
		t.Fatalf("info %+v", info)
	}
	a.tx.SendPacket([]byte("psk data"))
	if got := b.read(t, testutil.Patience); got != "psk data" {
		t.Fatalf("read %q", got)
	}
}

// TestPeerKeyRejected: with public-key verification on, a peer whose key
// is not listed fails the handshake, and Err reports why.
func TestPeerKeyRejected(t *testing.T) {
	mod := openModule(t)
	certA, certB, stranger := testutil.SelfSignedCert(t, "a"), testutil.SelfSignedCert(t, "b"), testutil.SelfSignedCert(t, "s")
	addECDSA(t, mod, 1, mediaport.ECDSA{Certificate: certA.TLS, PeerPublicKeys: []crypto.PublicKey{leafKey(t, stranger)}})
	addECDSA(t, mod, 2, mediaport.ECDSA{Certificate: certB.TLS})
	a, b := newSide(t, mod), newSide(t, mod)
	b.bind(t, a.port, association.Config{Role: association.Server, Tags: []mediaport.CredTag{2}, HandshakeTimeout: 5 * time.Second})
	a.bind(t, b.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}, VerifyPeerKey: true, HandshakeTimeout: 5 * time.Second})
	seen, err := a.waitRx(t, dtlsrx.Stopped, testutil.Patience)
	if seen[len(seen)-1] != dtlsrx.Stopped || !errors.Is(err, dtlsrx.ErrAssociation) {
		t.Fatalf("client statuses %v, err %v: want Stopped with the association error", seen, err)
	}
	if st, aerr := a.a.State(); st != association.Failed || aerr == nil {
		t.Fatalf("association %v %v", st, aerr)
	}
	if _, err := a.a.Info(); !errors.Is(err, association.ErrNotEstablished) {
		t.Fatalf("Info after failure: %v", err)
	}
}

func TestBindErrors(t *testing.T) {
	mod := openModule(t)
	addPSK(t, mod, 10, "id", "key", "")
	a := newSide(t, mod)
	if _, err := association.Bind(a.rx, a.tx, association.Config{Role: association.Client, Tags: []mediaport.CredTag{10}}); !errors.Is(err, mediaport.ErrState) {
		t.Fatalf("Bind with an unconfigured DTLS[tx]: %v", err)
	}
	a.tx.Config(dtlstx.Config{Destination: a.port, Local: a.port})
	for name, tc := range map[string]struct {
		cfg  association.Config
		want error
	}{
		"version":     {association.Config{Role: association.Client, Version: 13, Tags: []mediaport.CredTag{10}}, association.ErrVersion},
		"role":        {association.Config{Tags: []mediaport.CredTag{10}}, mediaport.ErrInvalidArgument},
		"no creds":    {association.Config{Role: association.Client, Tags: []mediaport.CredTag{99}}, association.ErrNoCredential},
		"empty tags":  {association.Config{Role: association.Client}, association.ErrNoCredential},
		"long hint":   {association.Config{Role: association.Server, Tags: []mediaport.CredTag{10}, PSKHint: string(make([]byte, 129))}, mediaport.ErrInvalidArgument},
		"fingerprint": {association.Config{Role: association.Server, Tags: []mediaport.CredTag{10}, PeerFingerprints: []string{"md5 00"}}, mediaport.ErrInvalidArgument},
		"profile":     {association.Config{Role: association.Server, Tags: []mediaport.CredTag{10}, SRTPProfiles: []association.SRTPProfile{0x99}}, mediaport.ErrInvalidArgument},
	} {
		if _, err := association.Bind(a.rx, a.tx, tc.cfg); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if _, err := association.Bind(a.rx, a.tx, association.Config{Role: association.Server, Tags: []mediaport.CredTag{10}}); err != nil {
		t.Fatal(err)
	}
	if _, err := association.Bind(a.rx, a.tx, association.Config{Role: association.Server, Tags: []mediaport.CredTag{10}}); !errors.Is(err, mediaport.ErrState) {
		t.Fatalf("second Bind on the same pair: %v", err)
	}
}

func TestChoosePSK(t *testing.T) {
	cred := func(tag mediaport.CredTag, hint string) mediaport.Credential {
		return mediaport.Credential{Tag: tag, Type: mediaport.CredPSK, PSK: mediaport.PSK{Key: []byte("k"), Hint: hint}}
	}
	creds := []mediaport.Credential{cred(1, "h1"), cred(2, "h2"), cred(3, "")}
	tags := []mediaport.CredTag{1, 2, 3}
	for _, tc := range []struct {
		name string
		hint string
		cb   func(string, []mediaport.CredTag) mediaport.CredTag
		want mediaport.CredTag
	}{
		{"no hint: first", "", nil, 1},
		{"hint matches", "h2", nil, 2},
		{"hint matches none: first", "zz", nil, 1},
		{"callback first", "h2", func(string, []mediaport.CredTag) mediaport.CredTag { return 3 }, 3},
		{"callback sees the hint", "h2", func(h string, _ []mediaport.CredTag) mediaport.CredTag {
			if h == "h2" {
				return 1
			}
			return 3
		}, 1},
		{"callback empty: default", "h2", func(string, []mediaport.CredTag) mediaport.CredTag { return mediaport.TagEmpty }, 2},
		{"callback unknown tag: default", "", func(string, []mediaport.CredTag) mediaport.CredTag { return 9 }, 1},
	} {
		got, ok := association.ChoosePSK(tc.hint, tags, creds, tc.cb)
		if !ok || got.Tag != tc.want {
			t.Errorf("%s: tag %d, want %d", tc.name, got.Tag, tc.want)
		}
	}
	if _, ok := association.ChoosePSK("x", tags, nil, nil); ok {
		t.Error("no credentials: chose one")
	}
}

func TestValidRecords(t *testing.T) {
	rec := func(ct byte, n int) []byte {
		return append([]byte{ct, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, byte(n >> 8), byte(n)}, make([]byte, n)...)
	}
	ok := [][]byte{rec(22, 10), append(rec(22, 3), rec(23, 0)...), rec(20, 1)}
	bad := [][]byte{{}, rec(24, 1), rec(22, 10)[:20], append(rec(22, 1), 0), {22, 0xfe, 0xfd}, append(rec(22, 1)[:1], 3, 1)}
	for _, b := range ok {
		if !association.ValidRecords(b) {
			t.Errorf("% x rejected", b)
		}
	}
	for _, b := range bad {
		if association.ValidRecords(b) {
			t.Errorf("% x accepted", b)
		}
	}
}

// TestDataAfterIdle: an idle established association has no goroutine of
// its own (its read sessions end after readLinger on the module's clock,
// a fake one here) and holds no read buffer; after such idle periods data
// still crosses both ways, in order, none lost — a single record, and a
// burst that arrives while a session starts.
func TestDataAfterIdle(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	mod := openModuleClock(t, clk)
	addECDSA(t, mod, 1, mediaport.ECDSA{Certificate: newCert(t).TLS})
	a, s := newSide(t, mod), newSide(t, mod)
	mediaportPair(t, mod, a, s)
	for round := 0; round < 3; round++ {
		waitIdle(t, clk)
		for _, dir := range [][2]*side{{a, s}, {s, a}} {
			dir[0].sendTo(t, dir[1], fmt.Sprintf("round %d", round)) // after idle
		}
		waitIdle(t, clk)
		const burst = 100
		for i := 0; i < burst; i++ {
			if err := a.tx.SendPacket([]byte(fmt.Sprintf("%d/%d", round, i))); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < burst; i++ {
			if got, want := s.read(t, testutil.Patience), fmt.Sprintf("%d/%d", round, i); got != want {
				t.Fatalf("burst after idle: %q, want %q", got, want)
			}
		}
	}
	// A close_notify reaching an idle association still stops its
	// DTLS[rx] cleanly.
	waitIdle(t, clk)
	if err := a.tx.Stop(); err != nil {
		t.Fatal(err)
	}
	if seen, err := s.waitRx(t, dtlsrx.Stopped, testutil.Patience); err != nil || seen[len(seen)-1] != dtlsrx.Stopped {
		t.Fatalf("idle side after close_notify: %v %v", seen, err)
	}
	if st, _ := s.a.State(); st != association.Closed {
		t.Fatalf("idle side's association %v", st)
	}
}

// TestNoReadAfterQuietHandshake: an association that receives nothing
// after its handshake never reads: no read session starts (none would end
// here, with the module's clock, a fake one, standing still), so it holds
// no goroutine of its own and pion's Conn no state for a Read. Data then
// still starts one.
func TestNoReadAfterQuietHandshake(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	mod := openModuleClock(t, clk)
	addECDSA(t, mod, 1, mediaport.ECDSA{Certificate: newCert(t).TLS})
	a, s := newSide(t, mod), newSide(t, mod)
	mediaportPair(t, mod, a, s)
	for end := time.Now().Add(testutil.Patience); ; time.Sleep(time.Millisecond) {
		own := associationGoroutines()
		if len(own) == 0 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("%d goroutines of the association after a quiet handshake:\n%s", len(own), strings.Join(own, "\n\n"))
		}
	}
	a.sendTo(t, s, "after the quiet")
	s.sendTo(t, a, "and back")
}

// TestDataRightAfterHandshake: a client that sends a burst the moment its
// handshake completes may reach the server before the server's handshake
// has completed too; pion/dtls keeps only one such record and drops the
// rest, so the association holds them until its handshake is done. Each
// of many handshakes delivers the whole burst, in order. (The race is the
// server's scheduling, so a broken hold fails here often, not always.)
func TestDataRightAfterHandshake(t *testing.T) {
	mod := certModule(t)
	const rounds, burst = 20, 5
	for r := 0; r < rounds; r++ {
		c, s := newSide(t, mod), newSide(t, mod)
		s.bind(t, c.port, association.Config{Role: association.Server, Tags: []mediaport.CredTag{1}})
		c.bind(t, s.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}})
		if seen, err := c.waitRx(t, dtlsrx.Handshake, testutil.Patience); seen[len(seen)-1] != dtlsrx.Handshake {
			t.Fatalf("client handshake: %v %v", seen, err)
		}
		for i := 0; i < burst; i++ {
			if err := c.tx.SendPacket([]byte(fmt.Sprintf("%d/%d", r, i))); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < burst; i++ {
			if got, want := s.read(t, testutil.Patience), fmt.Sprintf("%d/%d", r, i); got != want {
				t.Fatalf("round %d: %q, want %q", r, got, want)
			}
		}
		for _, x := range []*side{c, s} {
			x.rx.Destroy()
			x.tx.Destroy()
			x.v.Destroy()
		}
	}
}

// TestRecordsBeforeBind: DTLS records that reach a DTLS[rx] before its
// association is bound — here the client's ClientHello, sent before the
// server binds — are handed to the association by Bind: the server learns
// its peer from that ClientHello at once, and the record is never reported
// as HasPacket nor returned by GetPacket as if it were application data.
func TestRecordsBeforeBind(t *testing.T) {
	mod := certModule(t)
	c, s := newSide(t, mod), newSide(t, mod)
	c.bind(t, s.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}})
	if seen, err := s.waitRx(t, dtlsrx.HasPacket, testutil.Patience); seen[len(seen)-1] != dtlsrx.HasPacket {
		t.Fatalf("the ClientHello did not reach the unbound DTLS[rx]: %v %v", seen, err)
	}
	// No destination: the server learns it from the queued ClientHello.
	if err := s.tx.Config(dtlstx.Config{Local: s.port}); err != nil {
		t.Fatal(err)
	}
	a, err := association.Bind(s.rx, s.tx, association.Config{Role: association.Server, Tags: []mediaport.CredTag{1}})
	if err != nil {
		t.Fatal(err)
	}
	s.a = a
	if st := a.Stats(); st.Records == 0 || a.Peer() != c.port {
		t.Fatalf("after Bind: stats %+v, peer %v (want %v): the queued ClientHello was not handed over", st, a.Peer(), c.port)
	}
	// Nothing for GetPacket: Running, or Handshake when the handshake has
	// already completed (the ClientHello was there, so it may be quick).
	st, err := s.rx.Status()
	switch {
	case err != nil || (st != dtlsrx.Running && st != dtlsrx.Handshake):
		t.Fatalf("DTLS[rx] after Bind: %v %v, want Running or Handshake (nothing for GetPacket)", st, err)
	case st == dtlsrx.Running:
		seen, err := s.waitRx(t, dtlsrx.Handshake, testutil.Patience)
		if err != nil || seen[len(seen)-1] != dtlsrx.Handshake || slices.Contains(seen, dtlsrx.HasPacket) {
			t.Fatalf("server statuses %v %v", seen, err)
		}
	}
	if seen, err := c.waitRx(t, dtlsrx.Handshake, testutil.Patience); seen[len(seen)-1] != dtlsrx.Handshake {
		t.Fatalf("client statuses %v %v", seen, err)
	}
	if n, _, err := s.rx.GetPacket(make([]byte, 2048)); !errors.Is(err, dtlsrx.ErrNoPacket) {
		t.Fatalf("GetPacket before any data: %d bytes, %v", n, err)
	}
	c.sendTo(t, s, "to server")
	s.sendTo(t, c, "to client")
}

// TestGetPacketsTerminated: in terminated mode GetPackets returns the
// decrypted application data in order, from the peer's address.
func TestGetPacketsTerminated(t *testing.T) {
	mod := certModule(t)
	a, s := newSide(t, mod), newSide(t, mod)
	mediaportPair(t, mod, a, s)
	want := []string{"one", "two", "three", "four", "five"}
	for _, m := range want {
		if err := a.tx.SendPacket([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	bufs := [][]byte{make([]byte, 64), make([]byte, 64), make([]byte, 64)}
	sizes, srcs := make([]int, 3), make([]netip.AddrPort, 3)
	ev, _ := s.rx.Event()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	var got []string
	for len(got) < len(want) {
		n, err := s.rx.GetPackets(bufs, sizes, srcs)
		if err != nil {
			if !errors.Is(err, dtlsrx.ErrNoPacket) {
				t.Fatal(err)
			}
			if ev.Wait(ctx) != nil {
				t.Fatalf("read %q, want %q", got, want)
			}
			continue
		}
		for i := range n {
			if srcs[i] != a.port {
				t.Fatalf("%q from %v, want %v", bufs[i][:sizes[i]], srcs[i], a.port)
			}
			got = append(got, string(bufs[i][:sizes[i]]))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read %q, want %q", got, want)
	}
}

// TestShortBufferTerminated (docs/conformance.md, RIOT 7): in
// terminated mode a buffer too short for the decrypted record is reported —
// ErrBufferTooSmall with the record's length, as RIOT's recv reports
// ENOBUFS — but, unlike RIOT, the record is kept for the next call rather
// than dropped: no data is lost silently.
func TestShortBufferTerminated(t *testing.T) {
	mod := certModule(t)
	a, s := newSide(t, mod), newSide(t, mod)
	mediaportPair(t, mod, a, s)
	if err := a.tx.SendPacket([]byte("twelve bytes")); err != nil {
		t.Fatal(err)
	}
	ev, _ := s.rx.Event()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	small := make([]byte, 5)
	for {
		n, _, err := s.rx.GetPacket(small)
		if errors.Is(err, dtlsrx.ErrNoPacket) {
			if ev.Wait(ctx) != nil {
				t.Fatal("no record")
			}
			continue
		}
		if !errors.Is(err, mediaport.ErrBufferTooSmall) || n != 12 {
			t.Fatalf("GetPacket into 5 bytes = %d, %v; want 12, ErrBufferTooSmall", n, err)
		}
		break
	}
	if got := s.read(t, testutil.Patience); got != "twelve bytes" {
		t.Fatalf("after the short buffer: %q", got)
	}
}

// waitIdle advances clk by the read sessions' linger until no goroutine
// that package association started is left (at most 30 s): the
// associations on a module on clk are idle then, with pion's goroutines
// only (pion's reader waits in the association's PacketConn).
func waitIdle(t testing.TB, clk *clock.Fake) {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); ; {
		clk.Advance(50 * time.Millisecond)
		own := associationGoroutines()
		if len(own) == 0 {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%d goroutines of the association while idle:\n%s", len(own), strings.Join(own, "\n\n"))
		}
		time.Sleep(time.Millisecond)
	}
}

// associationGoroutines returns the stacks of the goroutines that package
// association started.
func associationGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var own []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "created by github.com/mediaport/mediaport/association.") {
			own = append(own, g)
		}
	}
	return own
}
