package association_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/dtlstx"
)

// A Listener serves two clients on one port: its event reports each new
// session with its peer (RIOT's -SOCK_DTLS_HANDSHAKE and
// sock_dtls_session_get_udp_ep), their data reaches the DTLS[rx] with
// their address, and Session.Send answers each.
func ExampleListen() {
	mod, err := mediaport.OpenModule(mediaport.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer mod.Close()
	const tag mediaport.CredTag = 1
	err = mod.AddCredential(mediaport.Credential{Tag: tag, Type: mediaport.CredPSK,
		PSK: mediaport.PSK{Identity: []byte("client"), Key: []byte("a pre-shared secret")}})
	if err != nil {
		log.Fatal(err)
	}

	server := newEndpoint(mod)
	if err := server.tx.Config(dtlstx.Config{Local: server.port}); err != nil { // no destination
		log.Fatal(err)
	}
	l, err := association.Listen(server.rx, server.tx, association.ListenerConfig{
		Config:      association.Config{Tags: []mediaport.CredTag{tag}},
		MaxSessions: 8,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()

	clients := []*endpoint{newEndpoint(mod), newEndpoint(mod)}
	for _, c := range clients {
		if err := c.tx.Config(dtlstx.Config{Destination: server.port, Local: c.port}); err != nil {
			log.Fatal(err)
		}
		if _, err := association.Bind(c.rx, c.tx, association.Config{Role: association.Client, Tags: []mediaport.CredTag{tag}}); err != nil {
			log.Fatal(err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ev, _ := l.Event()
	for n := 0; n < len(clients); {
		st, s, _ := l.Status()
		if st == association.SessionNew {
			n++
			fmt.Println("new session from a client:", s.Peer() == clients[0].port || s.Peer() == clients[1].port)
			continue
		}
		if ev.Wait(ctx) != nil {
			log.Fatal("no session")
		}
	}
	for i, c := range clients {
		c.await(ctx, dtlsrx.Handshake)
		if err := c.tx.SendPacket([]byte(fmt.Sprint("hello from client ", i))); err != nil {
			log.Fatal(err)
		}
		msg, src := server.receiveFrom(ctx)
		fmt.Printf("server got %q from client %d: %v\n", msg, i, src == c.port)
		if err := l.Session(src).Send([]byte("welcome")); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("client %d got %q\n", i, c.receive(ctx))
	}
	// Output:
	// new session from a client: true
	// new session from a client: true
	// server got "hello from client 0" from client 0: true
	// client 0 got "welcome"
	// server got "hello from client 1" from client 1: true
	// client 1 got "welcome"
}

// receiveFrom waits for one packet on the DTLS[rx] and returns it with its
// source.
func (e *endpoint) receiveFrom(ctx context.Context) (string, netip.AddrPort) {
	e.await(ctx, dtlsrx.HasPacket)
	buf := make([]byte, 2048)
	n, src, err := e.rx.GetPacket(buf)
	if err != nil {
		log.Fatal(err)
	}
	return string(buf[:n]), src
}
