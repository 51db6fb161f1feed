package association_test

import (
	"math/rand/v2"
	"net"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/internal/testutil"
)

// TestLearningServerNotTakenOver: a learning server (no DTLS[tx]
// destination) does not learn from a 34-byte ClientHello look-alike, and
// a well-formed ClientHello from a source that never answers makes its
// peer only tentative: the real client's ClientHello replaces it, and the
// real client completes its handshake long before the handshake timeout.
func TestLearningServerNotTakenOver(t *testing.T) {
	mod := certModule(t)
	srv, cli := newSide(t, mod), newSide(t, mod)
	if err := srv.tx.Config(dtlstx.Config{Local: srv.port}); err != nil {
		t.Fatal(err)
	}
	a, err := association.Bind(srv.rx, srv.tx, association.Config{Role: association.Server, Tags: []mediaport.CredTag{1}})
	if err != nil {
		t.Fatal(err)
	}
	srv.a = a
	spoof, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer spoof.Close()
	dst := net.UDPAddrFromAddrPort(srv.port)
	look := make([]byte, 34)
	look[0], look[1], look[2], look[12], look[13] = 22, 0xfe, 0xfd, 21, 1 // handshake, DTLS 1.2, epoch 0, one record, ClientHello
	if _, err := spoof.WriteToUDP(look, dst); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, testutil.Patience, func() bool { return a.Stats().Foreign == 1 }, "look-alike not dropped: %+v", a.Stats())
	if a.Peer().IsValid() {
		t.Fatalf("learned %v from a 34-byte look-alike", a.Peer())
	}
	spoofAddr := spoof.LocalAddr().(*net.UDPAddr).AddrPort()
	if _, err := spoof.WriteToUDP(floodHello(0, rand.New(rand.NewPCG(1, 2))), dst); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, testutil.Patience, func() bool { return a.Peer() == spoofAddr }, "no tentative peer")
	// The real client, after the spoofed ClientHello.
	cli.bind(t, srv.port, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1}})
	waitEstablished(t, srv, cli)
	if a.Peer() != cli.port {
		t.Fatalf("peer %v, want the client %v", a.Peer(), cli.port)
	}
	cli.sendTo(t, srv, "through")
	srv.sendTo(t, cli, "back")
	// Proven and established: another ClientHello does not take it over.
	foreign := a.Stats().Foreign // before the send: the port may count it at once
	if _, err := spoof.WriteToUDP(floodHello(1, rand.New(rand.NewPCG(3, 4))), dst); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, testutil.Patience, func() bool { return a.Stats().Foreign > foreign }, "late ClientHello not dropped")
	if a.Peer() != cli.port {
		t.Fatalf("peer %v after a late ClientHello", a.Peer())
	}
	srv.sendTo(t, cli, "still")
}
