package association_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/pion/dtls/v3"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/internal/testutil"
)

// batchRecord is the payload of record id of a SendPackets test: the id,
// then a length and bytes that depend on it, so that a record cut,
// merged or swapped with another is seen.
func batchRecord(id uint32) []byte {
	p := make([]byte, 4+1+int(id*37%1100))
	binary.BigEndian.PutUint32(p, id)
	for i := 4; i < len(p); i++ {
		p[i] = byte(id*7 + uint32(i))
	}
	return p
}

// checkBatchRecord returns the id of p, or fails the test when p is not
// batchRecord(id).
func checkBatchRecord(t *testing.T, p []byte) uint32 {
	t.Helper()
	if len(p) < 4 {
		t.Fatalf("record of %d bytes", len(p))
	}
	id := binary.BigEndian.Uint32(p)
	if !bytes.Equal(p, batchRecord(id)) {
		t.Fatalf("record %d: %d bytes, not what was sent (%d bytes)", id, len(p), len(batchRecord(id)))
	}
	return id
}

// TestSendPacketsDelivers: batches sent with SendPackets between two
// mediaport endpoints on the record path arrive, every record whole and
// once, read with GetPackets. The sender waits, after each batch, until
// every record sent so far was read or counted dropped by the receiving
// port's kernel (vmprx Stats.KernelDrops) — a credit window — and halves
// its batch when the kernel dropped.
func TestSendPacketsDelivers(t *testing.T) {
	mod := certModule(t)
	a, s := newSide(t, mod), newSide(t, mod)
	mediaportPair(t, mod, a, s)
	if !association.RecordPath(a.a) {
		t.Fatal("not on mediaport's record path")
	}
	const total, batch = 640, 32
	pkts := make([][]byte, batch)
	bufs, sizes, srcs := make([][]byte, batch), make([]int, batch), make([]netip.AddrPort, batch)
	for i := range bufs {
		bufs[i] = make([]byte, 2048)
	}
	ev, _ := s.rx.Event()
	seen := make(map[uint32]bool)
	var drops uint64
	window := batch
	for sent := 0; sent < total; {
		n := min(window, total-sent)
		for i := range n {
			pkts[i] = batchRecord(uint32(sent + i))
		}
		k, err := a.tx.SendPackets(pkts[:n])
		if k != n || err != nil {
			t.Fatalf("SendPackets of %d: %d, %v", n, k, err)
		}
		sent += n
		ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
		for {
			got, err := s.rx.GetPackets(bufs, sizes, srcs)
			if err != nil && !errors.Is(err, dtlsrx.ErrNoPacket) {
				t.Fatal(err)
			}
			for i := range got {
				if srcs[i] != a.port {
					t.Fatalf("record from %v, want %v", srcs[i], a.port)
				}
				id := checkBatchRecord(t, bufs[i][:sizes[i]])
				if seen[id] {
					t.Fatalf("record %d twice", id)
				}
				seen[id] = true
			}
			vs, _ := s.v.Stats()
			if vs.KernelDrops > drops {
				drops = vs.KernelDrops
				window = max(1, window/2) // pace
			}
			if len(seen)+int(drops) >= sent {
				break
			}
			if got == 0 {
				if err := ev.Wait(ctx); err != nil {
					t.Fatalf("%d of %d records read, %d dropped: %v", len(seen), sent, drops, err)
				}
			}
		}
		cancel()
	}
	if len(seen)+int(drops) != total || len(seen) == 0 {
		t.Fatalf("%d records read, %d dropped by the kernel, %d sent", len(seen), drops, total)
	}
	if drops > 0 {
		t.Logf("the kernel dropped %d of %d records", drops, total)
	}
	if st, _ := s.rx.Stats(); st.Overrun != 0 {
		t.Fatalf("%d records lost to overrun", st.Overrun)
	}
	testutil.NoAllocs(t, "SendPackets on the record path", func() {
		if _, err := a.tx.SendPackets(pkts[:4]); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSendPacketsMisuse: SendPackets' errors are SendPacket's, matchable
// with errors.Is, and a batch with a payload too large for one record
// sends none of it.
func TestSendPacketsMisuse(t *testing.T) {
	one := [][]byte{[]byte("x")}
	var nilTx *dtlstx.DTLSTx
	if _, err := nilTx.SendPackets(one); !errors.Is(err, mediaport.ErrNilHandle) {
		t.Fatalf("nil handle: %v", err)
	}
	if _, err := new(dtlstx.DTLSTx).SendPackets(one); !errors.Is(err, mediaport.ErrNilHandle) {
		t.Fatalf("zero handle: %v", err)
	}
	mod := certModule(t)
	tx, err := dtlstx.Create(mod)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := tx.SendPackets(one); n != 0 || !errors.Is(err, mediaport.ErrState) {
		t.Fatalf("before Config: %d, %v", n, err)
	}
	if n, err := tx.SendPackets(nil); n != 0 || err != nil {
		t.Fatalf("no packets: %d, %v", n, err)
	}
	tx.Destroy()

	// Bound, the handshake not done (no peer answers).
	lone := newSide(t, mod)
	lone.bind(t, netip.AddrPortFrom(lo4, testutil.FreeUDPPort(t)), association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}})
	if n, err := lone.tx.SendPackets(one); n != 0 || !errors.Is(err, association.ErrNotEstablished) || !errors.Is(err, mediaport.ErrNotEstablished) || !errors.Is(err, mediaport.ErrState) {
		t.Fatalf("before the handshake: %d, %v", n, err)
	}

	a, s := newSide(t, mod), newSide(t, mod)
	mediaportPair(t, mod, a, s)
	before, _ := a.tx.Stats()
	big := make([]byte, 2048)
	if n, err := a.tx.SendPackets([][]byte{[]byte("first"), big}); n != 0 || !errors.Is(err, association.ErrTooLarge) || !errors.Is(err, mediaport.ErrInvalidArgument) {
		t.Fatalf("a payload too large: %d, %v", n, err)
	}
	if after, _ := a.tx.Stats(); after.Packets != before.Packets || after.Bytes != before.Bytes {
		t.Fatalf("Stats %+v after a refused batch, %+v before: something was sent", after, before)
	}
	if n, err := a.tx.SendPackets([][]byte{[]byte("after"), []byte("second")}); n != 2 || err != nil {
		t.Fatalf("SendPackets: %d, %v", n, err)
	}
	// The refused batch's first payload was not sent: "after" comes first.
	if got := s.read(t, testutil.Patience); got != "after" {
		t.Fatalf("read %q, want \"after\"", got)
	}
	if got := s.read(t, testutil.Patience); got != "second" {
		t.Fatalf("read %q, want \"second\"", got)
	}
	if err := a.tx.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.tx.SendPackets(one); !errors.Is(err, mediaport.ErrStopped) {
		t.Fatalf("after Stop: %v", err)
	}
	a.tx.Destroy()
	if _, err := a.tx.SendPackets(one); !errors.Is(err, mediaport.ErrDestroyed) {
		t.Fatalf("after Destroy: %v", err)
	}
}

// TestSendPacketsPionPath: on pion's path (a CBC suite) SendPackets sends
// each payload with pion, as SendPacket does.
func TestSendPacketsPionPath(t *testing.T) {
	cert := newCert(t)
	suite := dtls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA
	p := newRawPeer(t)
	s := recordPort(t, suite, cert)
	p.start(t, s.port, suite, false, cert)
	s.bindRecord(t, association.Client, p.addr)
	waitEstablished(t, s)
	p.handshake(t)
	if association.RecordPath(s.a) {
		t.Fatal("a CBC suite on mediaport's record path")
	}
	want := map[string]bool{"one": true, "two, longer": true, "3": true}
	if n, err := s.tx.SendPackets([][]byte{[]byte("one"), []byte("two, longer"), []byte("3")}); n != 3 || err != nil {
		t.Fatalf("SendPackets: %d, %v", n, err)
	}
	for range 3 {
		got := p.read(t)
		if !want[got] {
			t.Fatalf("pion read %q: not sent, or twice", got)
		}
		delete(want, got)
	}
}

// TestSockSendVPieces: SendV's snips — odd sizes, a nil and an empty one
// — arrive as one record holding exactly their concatenation, in order,
// on mediaport's record path (gathered into the send buffer) and on
// pion's (gathered into a pooled buffer); the pion peer checks. On the
// record path a gather too large for one record is ErrTooLarge, and
// SendV does not allocate.
func TestSockSendVPieces(t *testing.T) {
	cert := newCert(t)
	for _, suite := range []dtls.CipherSuiteID{dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA} {
		t.Run(suite.String(), func(t *testing.T) {
			p := newRawPeer(t)
			s := recordPort(t, suite, cert)
			k := s.sock(t, association.ListenerConfig{Config: association.Config{Role: association.Client, Tags: []mediaport.CredTag{1},
				SRTPProfiles: []association.SRTPProfile{association.SRTP_AES128_CM_HMAC_SHA1_80}}})
			p.start(t, s.port, suite, false, cert)
			sess, err := k.SessionInit(p.addr)
			if err != nil {
				t.Fatal(err)
			}
			recvWant(t, k, association.ErrHandshakeDone)
			p.handshake(t)
			var snips [][]byte
			var want []byte
			for i, size := range []int{3, -1, 1, 0, 251, 7, 1000, 2} {
				var x []byte // -1: a nil snip
				if size >= 0 {
					x = make([]byte, size)
					for j := range x {
						x[j] = byte(i*31 + j)
					}
				}
				snips = append(snips, x)
				want = append(want, x...)
			}
			if n, err := k.SendV(association.NoWait(), sess, snips); n != len(want) || err != nil {
				t.Fatalf("SendV: %d, %v (want %d)", n, err, len(want))
			}
			if got := p.read(t); got != string(want) {
				t.Fatalf("peer read %d bytes, not the %d of the snips in order", len(got), len(want))
			}
			var aux association.AuxTx
			if n, err := k.SendVAux(association.NoWait(), sess, snips[3:6], &aux); n != 258 || err != nil || aux.Local != s.port {
				t.Fatalf("SendVAux: %d, %v, %+v", n, err, aux)
			}
			if got := p.read(t); got != string(want[4:262]) {
				t.Fatalf("peer read %d bytes, want the 258 of snips 3 to 5", len(got))
			}
			if n, err := k.SendV(association.NoWait(), sess, nil); n != 0 || err != nil {
				t.Fatalf("SendV of no snips: %d, %v", n, err)
			}
			if got := p.read(t); got != "" {
				t.Fatalf("peer read %q, want an empty record", got)
			}
			if suite != dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 {
				return
			}
			if _, err := k.SendV(association.NoWait(), sess, [][]byte{make([]byte, 1000), make([]byte, 1100)}); !errors.Is(err, association.ErrTooLarge) {
				t.Fatalf("SendV of 2,100 bytes: %v, want ErrTooLarge", err)
			}
			testutil.NoAllocs(t, "SendV on the record path", func() {
				if _, err := k.SendV(association.NoWait(), sess, snips); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}
