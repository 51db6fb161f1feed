package association_test

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pionstun "github.com/pion/stun/v3"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/stun"
	"github.com/mediaport/mediaport/vmprx"
)

type vmprxStats = vmprx.Stats

// floodHello returns a well-formed first DTLS 1.2 ClientHello (no
// cookie, message_seq 0) in one record with sequence number seq.
func floodHello(seq uint64, rnd *rand.Rand) []byte {
	body := []byte{0xfe, 0xfd}
	for range 32 {
		body = append(body, byte(rnd.Uint32()))
	}
	body = append(body, 0, 0, 0, 2, 0xc0, 0x2b, 1, 0) // no session id, no cookie, one suite, null compression
	hs := []byte{1, 0, 0, byte(len(body)), 0, 0, 0, 0, 0, 0, 0, byte(len(body))}
	hs = append(hs, body...)
	rec := []byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(rec[3:], 0)
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], seq)
	copy(rec[5:11], s[2:])
	binary.BigEndian.PutUint16(rec[11:], uint16(len(hs)))
	return append(rec, hs...)
}

// TestListenerFlood: a burst of 100k ClientHellos from 2,000 source
// ports (sources that never answer, as spoofed ones would not) and 20k
// random records of the DTLS range, with a legitimate openssl s_client
// starting in the middle of it: the client completes its handshake (its
// first flight is usually lost in the burst: the kernel drops most of
// it, and the Listener refuses or evicts unproved sessions; it completes
// on its retransmission), goroutines and heap stay bounded, the limits
// hold (MaxUnproved's default 16 among them), and
// the burst is counted (sent, received by the port, and by the
// Listener). A flood sustained for as long as the client tries defeats
// the Listener: see the Listener's admission notes.
func TestListenerFlood(t *testing.T) { listenerFlood(t, floodPlain) }

// TestListenerFloodAdmitted: with RequireAdmit, and the client's address
// admitted (as an application does after an authenticated ICE check from
// it), a flood sustained until the client is through — at least 100k
// ClientHellos and 20k random records — creates no session at all, and
// the openssl client completes while it runs.
func TestListenerFloodAdmitted(t *testing.T) { listenerFlood(t, floodAdmit) }

// TestListenerFloodICE: with an ICE-lite agent on the port serving the
// client with its own credential set (AddPeer), and the client's address
// checked once before openssl starts from it, a flood sustained until
// the client is through reaches no session state: the port drops DTLS
// from every address without an authenticated check (DTLSUnchecked),
// and the only session is the client's. No application code admits it.
func TestListenerFloodICE(t *testing.T) { listenerFlood(t, floodICE) }

type floodMode int

const (
	floodPlain floodMode = iota
	floodAdmit
	floodICE
)

// iceCheck sends an ICE connectivity check from c to dst with USERNAME
// user keyed with pass until it is answered with success.
func iceCheck(t *testing.T, c *net.UDPConn, dst netip.AddrPort, user, pass string) {
	t.Helper()
	req := pionstun.MustBuild(pionstun.TransactionID, pionstun.BindingRequest, pionstun.NewUsername(user),
		pionstun.RawAttribute{Type: pionstun.AttrICEControlling, Value: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
		pionstun.NewShortTermIntegrity(pass), pionstun.Fingerprint)
	buf := make([]byte, 1500)
	for range 50 {
		if _, err := c.WriteToUDPAddrPort(req.Raw, dst); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		for {
			n, err := c.Read(buf)
			if err != nil {
				break
			}
			res := &pionstun.Message{Raw: buf[:n]}
			if res.Decode() != nil || res.TransactionID != req.TransactionID {
				continue
			}
			if res.Type != pionstun.BindingSuccess || pionstun.NewShortTermIntegrity(pass).Check(res) != nil {
				t.Fatalf("check answered %v", res)
			}
			return
		}
	}
	t.Fatal("check not answered")
}

func listenerFlood(t *testing.T, mode floodMode) {
	admit := mode != floodPlain // the flood lasts until the client is through
	testutil.Peer(t, "openssl")
	if testing.Short() {
		t.Skip("flood")
	}
	ours := testutil.SelfSignedCert(t, "mediaport")
	mod := openModule(t)
	ecdsaCreds(ours)(t, mod)
	srv := newSide(t, mod)
	const maxSessions, maxHandshaking = 64, 16
	l := srv.listen(t, association.ListenerConfig{Config: association.Config{Tags: []mediaport.CredTag{1}},
		MaxSessions: maxSessions, MaxHandshaking: maxHandshaking, RequireAdmit: mode == floodAdmit})
	const clientPass = "client-one-password-0123"
	if mode == floodICE {
		lite, err := stun.NewICELite(stun.ICELiteConfig{Config: stun.ModuleConfig(mod), LocalUfrag: "srvu", LocalPassword: icePass,
			OnSendMsg: srv.v.SendSTUN})
		if err != nil {
			t.Fatal(err)
		}
		defer lite.Close()
		if err := lite.AddPeer("cl01", clientPass); err != nil {
			t.Fatal(err)
		}
		if err := srv.v.AttachSTUN(lite.Session()); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseHeap, baseG := ms.HeapInuse, runtime.NumGoroutine()

	const sources, hellos, randoms = 2000, 100_000, 20_000
	conns := make([]*net.UDPConn, sources)
	for i := range conns {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	dst := net.UDPAddrFromAddrPort(srv.port)
	before, _ := srv.v.Stats()
	var sent atomic.Uint64
	var maxG atomic.Int64
	var maxHeap atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the sampler
		defer wg.Done()
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if g := int64(runtime.NumGoroutine()); g > maxG.Load() {
				maxG.Store(g)
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > maxHeap.Load() {
				maxHeap.Store(ms.HeapInuse)
			}
		}
	}()
	const workers, pace = 2, 20 // paced (admit): about 2×20 datagrams a millisecond
	var clientDone atomic.Bool
	floodDone := make(chan struct{})
	var fwg sync.WaitGroup
	for w := range workers {
		fwg.Add(1)
		go func() {
			defer fwg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), 1))
			junk := make([]byte, 200)
			for i := w; i < hellos+randoms || (admit && !clientDone.Load()); i += workers {
				c := conns[i%sources]
				var p []byte
				if i%6 != 5 { // 5 ClientHellos to 1 random record
					p = floodHello(uint64(i/sources), rnd)
				} else {
					n := 13 + rnd.IntN(len(junk)-13)
					for j := range junk[:n] {
						junk[j] = byte(rnd.Uint32())
					}
					junk[0] = byte(20 + rnd.IntN(44)) // the DTLS range, 20-63
					p = junk[:n]
				}
				if _, err := c.WriteToUDP(p, dst); err == nil {
					sent.Add(1)
				}
				if admit && (i/workers)%pace == 0 {
					// Paced to what the port reads, so that the client's
					// flights are not lost to the kernel: this test is of
					// admission, not of loopback's buffers.
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	go func() { fwg.Wait(); close(floodDone) }()

	// The legitimate client, once the flood runs.
	testutil.Eventually(t, testutil.Patience, func() bool { return sent.Load() >= 10_000 }, "flood did not start")
	bind := netip.AddrPortFrom(lo4, testutil.FreeUDPPort(t))
	switch mode {
	case floodAdmit:
		if err := l.Admit(bind); err != nil {
			t.Fatal(err)
		}
	case floodICE:
		// The check from the client's address (a browser's, before its
		// ClientHello), then openssl takes the address.
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(bind))
		if err != nil {
			t.Fatal(err)
		}
		iceCheck(t, c, srv.port, "cl01:openssl", clientPass)
		c.Close()
	}
	start := time.Now()
	p := testutil.StartProc(t, "openssl", "s_client", "-dtls1_2", "-connect", srv.port.String(), "-bind", bind.String())
	var got *association.Session
	for got == nil {
		st, s := waitListener(t, l, 2*testutil.Patience)
		if st == association.ListenerStopped {
			t.Fatal("listener stopped")
		}
		if st == association.SessionNew && s.Peer() == bind {
			got = s
		}
	}
	elapsed := time.Since(start)
	flooding := !isDone(floodDone)
	clientDone.Store(true)
	<-floodDone
	close(stop)
	wg.Wait()
	if err := got.Send([]byte("hello through the flood\n")); err != nil {
		t.Fatal(err)
	}
	if !p.WaitOutput("hello through the flood", testutil.Patience) {
		t.Fatalf("openssl did not print our data:\n%s", p.Output())
	}
	// Every datagram the port received, the Listener counted once (wait
	// for the last to be routed).
	var after vmprxStats
	var st association.ListenerStats
	var arrived, counted uint64
	if !testutil.Poll(testutil.Patience, func() bool {
		after, _ = srv.v.Stats()
		st = l.Stats()
		arrived = after.DTLS - before.DTLS - (after.DTLSUnchecked - before.DTLSUnchecked)
		counted = st.Records + st.Created + st.Refused + st.Foreign + st.Unadmitted + st.Malformed
		return arrived == counted
	}) {
		t.Fatalf("port received %d DTLS datagrams, the Listener counted %d: %+v", arrived, counted, st)
	}
	unchecked := after.DTLSUnchecked - before.DTLSUnchecked
	t.Logf("openssl handshake: %v (flood still running at completion: %v); sent %d (5/6 ClientHellos, 1/6 random records), port received %d DTLS datagrams, dropped %d without ICE consent; listener %+v; goroutines %d -> max %d; heap %d MiB -> max %d MiB",
		elapsed, flooding, sent.Load(), arrived+unchecked, unchecked, st, baseG, maxG.Load(), baseHeap>>20, maxHeap.Load()>>20)
	if arrived+unchecked == 0 || arrived+unchecked > sent.Load()+1000 {
		t.Fatalf("port received %d of %d", arrived+unchecked, sent.Load())
	}
	switch mode {
	case floodICE:
		if !flooding || st.Created != 1 || unchecked < hellos+randoms || sent.Load() < hellos+randoms {
			t.Fatalf("ICE: flooding at completion %v, sent %d, %d dropped without consent, %+v: want the only session, the flood dropped at the port",
				flooding, sent.Load(), unchecked, st)
		}
	case floodAdmit:
		if !flooding || st.Created != 1 || st.Unadmitted == 0 || sent.Load() < hellos+randoms {
			t.Fatalf("admitted: flooding at completion %v, sent %d, %+v: want the only session, the flood dropped", flooding, sent.Load(), st)
		}
	default:
		if st.Created == 0 || st.Malformed+st.Foreign+st.Refused == 0 {
			t.Fatalf("listener saw no flood: %+v", st)
		}
	}
	// Bounded: each session holds its goroutines (ours and pion's), at most
	// maxSessions of them, plus the flood's own.
	if g := maxG.Load(); g > int64(baseG+workers+8*maxSessions+50) {
		t.Fatalf("goroutines reached %d (base %d)", g, baseG)
	}
	if h := maxHeap.Load(); h > baseHeap+256<<20 {
		t.Fatalf("heap reached %d MiB (base %d MiB)", h>>20, baseHeap>>20)
	}
	if st.Sessions > maxSessions || st.Handshaking-st.Unproved > maxHandshaking || st.Unproved > 16 {
		t.Fatalf("limits exceeded: %+v", st)
	}
}

func isDone(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
