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
	"github.com/mediaport/mediaport/vmprx"
)

// endpoint is one side of a media session: a VMP[rx] on one rtcp-mux port,
// a DTLS[rx] taking the DTLS that arrives there, and a DTLS[tx] sending from
// the same port.
type endpoint struct {
	v    *vmprx.VMPRx
	rx   *dtlsrx.DTLSRx
	tx   *dtlstx.DTLSTx
	port netip.AddrPort
}

func newEndpoint(mod *mediaport.Module) *endpoint {
	e := &endpoint{}
	var err error
	if e.v, err = vmprx.Create(mod); err != nil {
		log.Fatal(err)
	}
	if err = e.v.Config(vmprx.Config{Local: netip.MustParseAddr("127.0.0.1"), RTCPMux: true}); err != nil {
		log.Fatal(err)
	}
	e.port, _, _ = e.v.Ports()
	if e.rx, err = dtlsrx.Create(mod); err != nil {
		log.Fatal(err)
	}
	if err = e.v.ConfigDTLS(e.rx, false); err != nil {
		log.Fatal(err)
	}
	if e.tx, err = dtlstx.Create(mod); err != nil {
		log.Fatal(err)
	}
	return e
}

// await waits on the DTLS[rx]'s event until Status reports want.
func (e *endpoint) await(ctx context.Context, want dtlsrx.Status) {
	ev, err := e.rx.Event()
	if err != nil {
		log.Fatal(err)
	}
	for {
		if err := ev.Wait(ctx); err != nil {
			log.Fatal(err)
		}
		st, err := e.rx.Status()
		if err != nil {
			log.Fatal("DTLS[rx] status: ", err)
		}
		if st == want {
			return
		}
	}
}

// receive waits for one message of application data and returns it.
func (e *endpoint) receive(ctx context.Context) string {
	e.await(ctx, dtlsrx.HasPacket)
	buf := make([]byte, 2048)
	n, _, err := e.rx.GetPacket(buf)
	if err != nil {
		log.Fatal(err)
	}
	return string(buf[:n])
}

// Two endpoints on loopback run a terminated DTLS 1.2 association with a
// pre-shared key: the DTLS[rx] reports Handshake, then carries decrypted
// data; the DTLS[tx] encrypts what it sends.
func ExampleBind() {
	mod, err := mediaport.OpenModule(mediaport.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer mod.Close()

	// Both sides find the key under tag 1 of the module's pool.
	const tag mediaport.CredTag = 1
	err = mod.AddCredential(mediaport.Credential{
		Tag:  tag,
		Type: mediaport.CredPSK,
		PSK:  mediaport.PSK{Identity: []byte("client-1"), Key: []byte("a pre-shared secret")},
	})
	if err != nil {
		log.Fatal(err)
	}

	client, server := newEndpoint(mod), newEndpoint(mod)
	if err := client.tx.Config(dtlstx.Config{Destination: server.port, Local: client.port}); err != nil {
		log.Fatal(err)
	}
	if err := server.tx.Config(dtlstx.Config{Destination: client.port, Local: server.port}); err != nil {
		log.Fatal(err)
	}
	sa, err := association.Bind(server.rx, server.tx, association.Config{
		Role: association.Server,
		Tags: []mediaport.CredTag{tag},
	})
	if err != nil {
		log.Fatal(err)
	}
	ca, err := association.Bind(client.rx, client.tx, association.Config{
		Role: association.Client,
		Tags: []mediaport.CredTag{tag},
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client.await(ctx, dtlsrx.Handshake)
	server.await(ctx, dtlsrx.Handshake)
	info, err := sa.Info()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("established; server saw identity %q\n", info.PSKIdentity)

	if err := client.tx.SendPacket([]byte("hello from the client")); err != nil {
		log.Fatal(err)
	}
	fmt.Println("server got:", server.receive(ctx))
	if err := server.tx.SendPacket([]byte("hello from the server")); err != nil {
		log.Fatal(err)
	}
	fmt.Println("client got:", client.receive(ctx))

	// Close sends close_notify; the peer's DTLS[rx] then stops cleanly.
	if err := ca.Close(); err != nil {
		log.Fatal(err)
	}
	server.await(ctx, dtlsrx.Stopped)
	st, _ := sa.State()
	fmt.Println("server:", st)
	// Output:
	// established; server saw identity "client-1"
	// server got: hello from the client
	// client got: hello from the server
	// server: closed
}
