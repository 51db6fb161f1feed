package turn_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/netip"
	"time"

	pionturn "github.com/pion/turn/v4"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/turn"
)

// An allocation endpoint allocates a relay on a TURN server (here an
// in-process pion/turn server on loopback), installs a permission for a
// peer, and exchanges data with it through the relay.
func ExampleAllocation() {
	server, serverAddr := startTURNServer("example.org", "alice", "secret")
	defer server.Close()

	mod, err := mediaport.OpenModule(mediaport.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer mod.Close()
	a, err := turn.Create(mod)
	if err != nil {
		log.Fatal(err)
	}
	err = a.Config(turn.Config{Server: serverAddr, Username: "alice", Password: "secret"})
	if err != nil {
		log.Fatal(err)
	}
	ev, err := a.Event()
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// await waits on the event until Status reports want.
	await := func(want turn.Status) {
		for {
			if err := ev.Wait(ctx); err != nil {
				log.Fatal(err)
			}
			st, err := a.Status()
			if err != nil {
				log.Fatal(st, ": ", err)
			}
			if st == want {
				fmt.Println(st)
				return
			}
		}
	}
	await(turn.Allocated)
	relay, _ := a.RelayedAddr()
	fmt.Println("relayed address on", relay.Addr())

	// A peer that answers what it receives.
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		log.Fatal(err)
	}
	defer peer.Close()
	peerAddr := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	if err := a.CreatePermission(ctx, peerAddr.Addr()); err != nil {
		log.Fatal(err)
	}
	if err := a.SendTo(peerAddr, []byte("ping")); err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 1500)
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, src, err := peer.ReadFromUDP(buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("peer got %q from the relay: %v\n", buf[:n], src.AddrPort() == relay)
	if _, err := peer.WriteToUDP([]byte("pong"), src); err != nil {
		log.Fatal(err)
	}

	await(turn.HasPacket)
	n, from, err := a.GetPacket(buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("got %q from the peer: %v\n", buf[:n], from == peerAddr)

	// Stop releases the allocation (a Refresh with LIFETIME 0).
	if err := a.Stop(); err != nil {
		log.Fatal(err)
	}
	st, _ := a.Status()
	fmt.Println(st)
	if err := a.Destroy(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// Allocated
	// relayed address on 127.0.0.1
	// peer got "ping" from the relay: true
	// HasPacket
	// got "pong" from the peer: true
	// Stopped
}

// startTURNServer starts a pion/turn server on a loopback port with one
// long-term user, relaying on loopback.
func startTURNServer(realm, user, password string) (*pionturn.Server, netip.AddrPort) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	key := pionturn.GenerateAuthKey(user, realm, password)
	srv, err := pionturn.NewServer(pionturn.ServerConfig{
		Realm: realm,
		AuthHandler: func(u, r string, _ net.Addr) ([]byte, bool) {
			return key, u == user && r == realm
		},
		PacketConnConfigs: []pionturn.PacketConnConfig{{
			PacketConn: pc,
			RelayAddressGenerator: &pionturn.RelayAddressGeneratorStatic{
				RelayAddress: net.IPv4(127, 0, 0, 1),
				Address:      "127.0.0.1",
			},
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	return srv, pc.LocalAddr().(*net.UDPAddr).AddrPort()
}
