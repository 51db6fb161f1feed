package stun_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"time"

	pionstun "github.com/pion/stun/v3"

	"github.com/mediaport/mediaport/stun"
)

// A server session answers Binding requests with the requester's address;
// a client session sends one (retransmitted on the RTO schedule until an
// answer) and learns its reflexive address.
func ExampleSession() {
	// The server: a session over a UDP socket, answering in OnRxRequest.
	srvConn, err := stun.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		log.Fatal(err)
	}
	defer srvConn.Close()
	server, err := stun.Create(stun.Config{}, "server", stun.Callbacks{
		OnSendMsg: srvConn.Send,
		OnRxRequest: func(s *stun.Session, _ []byte, rdata *stun.RxData, token any, src netip.AddrPort) error {
			if rdata.Msg.Type.Method != pionstun.MethodBinding {
				return s.Respond(rdata, 400, "", token, false, src)
			}
			res, err := s.CreateRes(rdata, 0, "")
			if err != nil {
				return err
			}
			res.AddXORMappedAddress(src)
			return s.SendMsg(token, true, false, src, res) // cached for retransmissions
		},
	}, true)
	if err != nil {
		log.Fatal(err)
	}
	defer server.Destroy()
	srvConn.Serve(server)

	// The client: OnRequestComplete reports how the request ended.
	cliConn, err := stun.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		log.Fatal(err)
	}
	defer cliConn.Close()
	type result struct {
		status error
		mapped netip.AddrPort
		ok     bool
	}
	done := make(chan result, 1)
	client, err := stun.Create(stun.Config{}, "client", stun.Callbacks{
		OnSendMsg: cliConn.Send,
		OnRequestComplete: func(_ *stun.Session, status error, _ any, _ *stun.TxData, res *pionstun.Message, _ netip.AddrPort) {
			r := result{status: status}
			if res != nil {
				r.mapped, r.ok = stun.XORAddress(res, pionstun.AttrXORMappedAddress)
			}
			done <- r
		},
	}, true)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Destroy()
	cliConn.Serve(client)

	req, err := client.CreateReq(pionstun.MethodBinding, stun.MagicCookie, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := client.SendMsg(nil, false, true, srvConn.LocalAddr(), req); err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case r := <-done:
		fmt.Println("status:", r.status)
		fmt.Println("XOR-MAPPED-ADDRESS:", r.ok, "is the client's:", r.mapped == cliConn.LocalAddr())
	case <-ctx.Done():
		log.Fatal(ctx.Err())
	}
	// Output:
	// status: <nil>
	// XOR-MAPPED-ADDRESS: true is the client's: true
}
