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

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/internal/testutil"
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
func TestListenerFlood(t *testing.T) { listenerFlood(t, false) }

// TestListenerFloodAdmitted: with RequireAdmit, and the client's address
// admitted (as an application does after an authenticated ICE check from
// it), a flood sustained until the client is through — at least 100k
// ClientHellos and 20k random records — creates no session at all, and
// the openssl client completes while it runs.
func TestListenerFloodAdmitted(t *testing.T) { listenerFlood(t, true) }

func listenerFlood(t *testing.T, admit bool) {
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
		MaxSessions: maxSessions, MaxHandshaking: maxHandshaking, RequireAdmit: admit})
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
	if admit {
		if err := l.Admit(bind); err != nil {
			t.Fatal(err)
		}
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
		arrived = after.DTLS - before.DTLS
		counted = st.Records + st.Created + st.Refused + st.Foreign + st.Unadmitted + st.Malformed
		return arrived == counted
	}) {
		t.Fatalf("port received %d DTLS datagrams, the Listener counted %d: %+v", arrived, counted, st)
	}
	t.Logf("openssl handshake: %v (flood still running at completion: %v); sent %d (5/6 ClientHellos, 1/6 random records), port received %d DTLS datagrams; listener %+v; goroutines %d -> max %d; heap %d MiB -> max %d MiB",
		elapsed, flooding, sent.Load(), arrived, st, baseG, maxG.Load(), baseHeap>>20, maxHeap.Load()>>20)
	if arrived == 0 || arrived > sent.Load()+1000 {
		t.Fatalf("port received %d of %d", arrived, sent.Load())
	}
	if admit {
		if !flooding || st.Created != 1 || st.Unadmitted == 0 || sent.Load() < hellos+randoms {
			t.Fatalf("admitted: flooding at completion %v, sent %d, %+v: want the only session, the flood dropped", flooding, sent.Load(), st)
		}
	} else if st.Created == 0 || st.Malformed+st.Foreign+st.Refused == 0 {
		t.Fatalf("listener saw no flood: %+v", st)
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
