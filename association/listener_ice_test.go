package association_test

import (
	"fmt"
	"testing"
	"time"

	pionstun "github.com/pion/stun/v3"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/srtp"
	"github.com/mediaport/mediaport/stun"
)

// TestListenerICEPeers: one port runs an ICE-lite agent with a credential
// set per peer (AddPeer) and a Listener. Two pion clients each check from
// their port with their own ufrag and password, then handshake; a third,
// which never checks, is dropped at the port and gets no session. The
// application keys each session's SRTP on the port by its peer
// (ConfigSRTPPeer): each client's SRTP arrives decrypted with its source,
// and application data both ways with each session. Removing a peer's
// credential set ends its consent at once: its datagrams are dropped at
// the port from then on.
func TestListenerICEPeers(t *testing.T) {
	mod := certModule(t)
	srv := newSide(t, mod)
	gcm := []association.SRTPProfile{association.SRTP_AEAD_AES_128_GCM}
	lite, err := stun.NewICELite(stun.ICELiteConfig{Config: stun.ModuleConfig(mod), LocalUfrag: "srvu", LocalPassword: icePass,
		OnSendMsg: srv.v.SendSTUN})
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	if err := srv.v.AttachSTUN(lite.Session()); err != nil {
		t.Fatal(err)
	}
	l := srv.listen(t, association.ListenerConfig{Config: association.Config{Tags: []mediaport.CredTag{1}, SRTPProfiles: gcm}})

	const n = 2
	clients := make([]*side, n)
	for i := range clients {
		clients[i] = newSide(t, mod)
		ufrag, pass := fmt.Sprintf("peer%d", i), fmt.Sprintf("peer-%d-password-0123456789", i)
		if err := lite.AddPeer(ufrag, pass); err != nil {
			t.Fatal(err)
		}
		check := pionstun.MustBuild(pionstun.TransactionID, pionstun.BindingRequest, pionstun.NewUsername(ufrag+":remote"),
			pionstun.RawAttribute{Type: pionstun.AttrICEControlling, Value: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
			pionstun.NewShortTermIntegrity(pass), pionstun.Fingerprint)
		c := clients[i]
		testutil.Eventually(t, testutil.Patience, func() bool {
			if lite.HasConsent(c.port) {
				return true
			}
			c.v.SendFrom(false, check.Raw, srv.port) // again until one has arrived
			return false
		}, "no consent after the checks")
	}
	// The third never checks.
	stranger := newSide(t, mod)
	stranger.bind(t, srv.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1},
		HandshakeTimeout: 2 * time.Second, FlightInterval: 200 * time.Millisecond})
	for _, c := range clients {
		c.bind(t, srv.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}, SRTPProfiles: gcm})
	}
	for range n {
		st, s := waitListener(t, l, testutil.Patience)
		if st != association.SessionNew || s.Peer() == stranger.port {
			t.Fatalf("%v of %v", st, s.Peer())
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
	for i, c := range clients {
		k, _ := c.a.SRTPKeys()
		tx, err := srtp.New(k)
		if err != nil {
			t.Fatal(err)
		}
		msg := fmt.Sprintf("media of client %d", i)
		if err := c.v.SendFrom(false, srtpFrom(t, tx, uint32(i+1), 1, msg), srv.port); err != nil {
			t.Fatal(err)
		}
		if got, src := readRTP(t, srv.v); got != msg || src != c.port {
			t.Fatalf("RTP %q from %v, want %q from %v", got, src, msg, c.port)
		}
		if err := l.Session(c.port).Send([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		if got := c.read(t, testutil.Patience); got != msg {
			t.Fatalf("client %d read %q", i, got)
		}
		if err := c.tx.SendPacket([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		if got, src := srv.readFrom(t, testutil.Patience); got != msg || src != c.port {
			t.Fatalf("read %q from %v", got, src)
		}
	}
	if st := l.Stats(); st.Created != n || st.Sessions != n {
		t.Fatalf("listener %+v: want only the checked clients' sessions", st)
	}
	if vs, _ := srv.v.Stats(); vs.DTLSUnchecked == 0 {
		t.Fatalf("the stranger's ClientHellos were not dropped at the port: %+v", vs)
	}
	// Removing client 0's set ends its consent: its data is dropped at the
	// port, client 1's still flows.
	if err := lite.RemovePeer("peer0"); err != nil {
		t.Fatal(err)
	}
	before, _ := srv.v.Stats()
	if err := clients[0].tx.SendPacket([]byte("after removal")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, testutil.Patience, func() bool {
		vs, _ := srv.v.Stats()
		return vs.DTLSUnchecked > before.DTLSUnchecked
	}, "client 0's data not dropped after RemovePeer")
	if err := clients[1].tx.SendPacket([]byte("still here")); err != nil {
		t.Fatal(err)
	}
	if got, src := srv.readFrom(t, testutil.Patience); got != "still here" || src != clients[1].port {
		t.Fatalf("read %q from %v", got, src)
	}
}
