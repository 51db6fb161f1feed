package dtlstx_test

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

// batchSide is a VMP[rx] port with a DTLS[rx] and a DTLS[tx] on it.
type batchSide struct {
	rx   *dtlsrx.DTLSRx
	tx   *dtlstx.DTLSTx
	port netip.AddrPort
}

func newBatchSide(mod *mediaport.Module) *batchSide {
	v, err := vmprx.Create(mod)
	if err != nil {
		log.Fatal(err)
	}
	if err := v.Config(vmprx.Config{Local: netip.MustParseAddr("127.0.0.1"), RTCPMux: true}); err != nil {
		log.Fatal(err)
	}
	s := &batchSide{}
	s.port, _, _ = v.Ports()
	if s.rx, err = dtlsrx.Create(mod); err != nil {
		log.Fatal(err)
	}
	if err := v.ConfigDTLS(s.rx, false); err != nil {
		log.Fatal(err)
	}
	if s.tx, err = dtlstx.Create(mod); err != nil {
		log.Fatal(err)
	}
	return s
}

// bind binds an association in role towards peer.
func (s *batchSide) bind(peer netip.AddrPort, role association.Role) *association.Association {
	if err := s.tx.Config(dtlstx.Config{Destination: peer, Local: s.port}); err != nil {
		log.Fatal(err)
	}
	a, err := association.Bind(s.rx, s.tx, association.Config{Role: role, Tags: []mediaport.CredTag{1}})
	if err != nil {
		log.Fatal(err)
	}
	return a
}

// wait waits on the DTLS[rx]'s event until Status reports want.
func (s *batchSide) wait(ctx context.Context, want dtlsrx.Status) {
	ev, _ := s.rx.Event()
	for {
		if st, err := s.rx.Status(); err != nil {
			log.Fatal(err)
		} else if st == want {
			return
		}
		if err := ev.Wait(ctx); err != nil {
			log.Fatal(err)
		}
	}
}

// On an established association with an AEAD suite (mediaport's record
// path), SendPackets seals each payload as a record of its own and hands
// the batch to the kernel in one sendmmsg; the peer's DTLS[rx] reads
// them with GetPackets, each payload whole.
func ExampleDTLSTx_SendPackets() {
	mod, err := mediaport.OpenModule(mediaport.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer mod.Close()
	err = mod.AddCredential(mediaport.Credential{Tag: 1, Type: mediaport.CredPSK,
		PSK: mediaport.PSK{Identity: []byte("client-1"), Key: []byte("a pre-shared secret")}})
	if err != nil {
		log.Fatal(err)
	}
	client, server := newBatchSide(mod), newBatchSide(mod)
	server.bind(client.port, association.Server)
	ca := client.bind(server.port, association.Client)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client.wait(ctx, dtlsrx.Handshake)
	server.wait(ctx, dtlsrx.Handshake)
	info, err := ca.Info()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("suite:", info.CipherSuiteName)

	n, err := client.tx.SendPackets([][]byte{[]byte("one"), []byte("two"), []byte("three")})
	fmt.Println("sent", n, err)

	bufs := [][]byte{make([]byte, 2048), make([]byte, 2048), make([]byte, 2048)}
	sizes, srcs := make([]int, 3), make([]netip.AddrPort, 3)
	for got := 0; got < 3; {
		server.wait(ctx, dtlsrx.HasPacket)
		k, err := server.rx.GetPackets(bufs[got:], sizes[got:], srcs[got:])
		if err != nil {
			log.Fatal(err)
		}
		got += k
	}
	for i := range 3 {
		fmt.Printf("server got %q from the client: %v\n", bufs[i][:sizes[i]], srcs[i] == client.port)
	}
	// Output:
	// suite: TLS_PSK_WITH_AES_128_GCM_SHA256
	// sent 3 <nil>
	// server got "one" from the client: true
	// server got "two" from the client: true
	// server got "three" from the client: true
}
