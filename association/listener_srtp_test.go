package association_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/srtp"
	"github.com/mediaport/mediaport/vmprx"
)

// readRTP waits for the next RTP packet of v and returns its payload and
// source.
func readRTP(t *testing.T, v *vmprx.VMPRx) (string, netip.AddrPort) {
	t.Helper()
	ev, _ := v.Event()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	buf := make([]byte, 2048)
	for {
		p, err := v.GetPacket(buf)
		if err == nil {
			return string(buf[12:p.Len]), p.Src
		}
		if !errors.Is(err, vmprx.ErrNoPacket) {
			t.Fatal(err)
		}
		if ev.Wait(ctx) != nil {
			st, _ := v.Stats()
			t.Fatalf("no RTP: %+v", st)
		}
	}
}

// srtpFrom encrypts an RTP packet of ssrc with payload under the local
// keys of k.
func srtpFrom(t *testing.T, tx *srtp.Session, ssrc uint32, seq uint16, payload string) []byte {
	t.Helper()
	p := make([]byte, 12+len(payload))
	p[0] = 0x80
	binary.BigEndian.PutUint16(p[2:], seq)
	binary.BigEndian.PutUint32(p[8:], ssrc)
	copy(p[12:], payload)
	e, err := tx.EncryptRTP(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestListenerSRTPPerPeer: pion clients on one Listener port, each with
// its own DTLS-SRTP session: the application keys each new session's
// SRTP on the port by its peer (ConfigSRTPPeer with the session's
// SRTPKeys), and each client's SRTP reaches GetPacket decrypted with its
// source. One client's SRTP sent from another's address fails
// authentication; once a session ends (SessionEnded) and its keys are
// dropped, its SRTP is dropped as unkeyed.
func TestListenerSRTPPerPeer(t *testing.T) {
	mod := certModule(t)
	srv := newSide(t, mod)
	gcm := []association.SRTPProfile{association.SRTP_AEAD_AES_128_GCM}
	l := srv.listen(t, association.ListenerConfig{Config: association.Config{Tags: []mediaport.CredTag{1}, SRTPProfiles: gcm}})
	const n = 3
	clients := make([]*side, n)
	for i := range clients {
		clients[i] = newSide(t, mod)
		clients[i].bind(t, srv.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}, SRTPProfiles: gcm})
	}
	for range n {
		st, s := waitListener(t, l, testutil.Patience)
		if st != association.SessionNew {
			t.Fatalf("status %v", st)
		}
		k, err := s.SRTPKeys()
		if err != nil {
			t.Fatal(err)
		}
		rx, err := srtp.New(k)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.v.ConfigSRTPPeer(s.Peer(), rx); err != nil {
			t.Fatal(err)
		}
	}
	waitEstablished(t, clients...)
	txs := make([]*srtp.Session, n)
	for i, c := range clients {
		k, err := c.a.SRTPKeys()
		if err != nil {
			t.Fatal(err)
		}
		if txs[i], err = srtp.New(k); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 2 {
		for i, c := range clients {
			msg := fmt.Sprintf("client %d round %d", i, round)
			if err := c.v.SendFrom(false, srtpFrom(t, txs[i], uint32(i+1), uint16(round+1), msg), srv.port); err != nil {
				t.Fatal(err)
			}
			if got, src := readRTP(t, srv.v); got != msg || src != c.port {
				t.Fatalf("read %q from %v, want %q from %v", got, src, msg, c.port)
			}
		}
	}
	// Client 0's SRTP from client 1's address: client 1's keys fail it.
	before, _ := srv.v.Stats()
	if err := clients[1].v.SendFrom(false, srtpFrom(t, txs[0], 1, 9, "spoofed"), srv.port); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, testutil.Patience, func() bool { st, _ := srv.v.Stats(); return st.SRTPAuth > before.SRTPAuth }, "not counted")
	// Client 2 leaves: its keys go with its session.
	clients[2].a.Close()
	st, s := waitListener(t, l, testutil.Patience)
	if st != association.SessionEnded || s.Peer() != clients[2].port {
		t.Fatalf("%v %v, want SessionEnded of %v", st, s.Peer(), clients[2].port)
	}
	if err := srv.v.ConfigSRTPPeer(s.Peer(), nil); err != nil {
		t.Fatal(err)
	}
	if err := clients[2].v.SendFrom(false, srtpFrom(t, txs[2], 3, 9, "after the end"), srv.port); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, testutil.Patience, func() bool { st, _ := srv.v.Stats(); return st.SRTPUnkeyed > before.SRTPUnkeyed }, "not counted")
	if vs, _ := srv.v.Stats(); vs.RTP != 2*n {
		t.Fatalf("%d RTP queued, want %d", vs.RTP, 2*n)
	}
}
