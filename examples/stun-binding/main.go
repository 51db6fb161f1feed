// Command stun-binding is a STUN Binding client and server on mediaport's
// pjnath-style session. With no mode flag it runs both on loopback and
// prints the reflexive address the server reports; -server serves; -client
// asks a server (yours, coturn, any RFC 5389 server).
//
//	go run ./examples/stun-binding                        # both, on loopback
//	go run ./examples/stun-binding -server -listen 127.0.0.1:3478
//	go run ./examples/stun-binding -client -server-addr 127.0.0.1:3478
//	go run ./examples/stun-binding -user alice -pass secret ...   # short-term credentials
package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"time"

	pionstun "github.com/pion/stun/v3"

	"github.com/mediaport/mediaport/stun"
)

func main() {
	serverMode := flag.Bool("server", false, "run only the server")
	clientMode := flag.Bool("client", false, "run only the client")
	listen := flag.String("listen", "127.0.0.1:0", "server: address to listen on")
	serverAddr := flag.String("server-addr", "", "client: server to ask")
	user := flag.String("user", "", "short-term username (both sides)")
	pass := flag.String("pass", "", "short-term password (both sides)")
	verbose := flag.Bool("v", false, "log every message")
	flag.Parse()
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	var cred *stun.Credential
	if *user != "" {
		cred = &stun.Credential{Username: *user, Password: []byte(*pass)}
	}
	var err error
	switch {
	case *serverMode:
		err = serveForever(log, *listen, cred)
	case *clientMode:
		var dst netip.AddrPort
		if dst, err = netip.ParseAddrPort(*serverAddr); err == nil {
			var mapped netip.AddrPort
			if mapped, err = Ask(log, dst, cred); err == nil {
				fmt.Println("reflexive address:", mapped)
			}
		}
	default:
		err = both(log, cred)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "stun-binding:", err)
		os.Exit(1)
	}
}

// Server is a Binding server: a session with a handler that answers with
// XOR-MAPPED-ADDRESS, over a UDP socket.
type Server struct {
	Session   *stun.Session
	Transport *stun.UDPTransport
}

// Serve starts a Binding server on listen.
func Serve(log *slog.Logger, listen string, cred *stun.Credential) (*Server, error) {
	addr, err := netip.ParseAddrPort(listen)
	if err != nil {
		return nil, err
	}
	tr, err := stun.ListenUDP(addr)
	if err != nil {
		return nil, err
	}
	s, err := stun.Create(stun.Config{Logger: log}, "binding-server", stun.Callbacks{
		OnSendMsg: tr.Send,
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
		tr.Close()
		return nil, err
	}
	s.SetServerName("mediaport stun-binding example")
	if cred != nil {
		s.SetCredential(stun.AuthShortTerm, cred)
	}
	tr.Serve(s)
	return &Server{Session: s, Transport: tr}, nil
}

// Close stops the server.
func (s *Server) Close() {
	s.Session.Destroy()
	s.Transport.Close()
}

func serveForever(log *slog.Logger, listen string, cred *stun.Credential) error {
	srv, err := Serve(log, listen, cred)
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Println("STUN Binding server on", srv.Transport.LocalAddr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	<-sig
	return nil
}

// Ask sends a Binding request to dst (retransmitted on the RTO schedule)
// and returns the reflexive address of the answer.
func Ask(log *slog.Logger, dst netip.AddrPort, cred *stun.Credential) (netip.AddrPort, error) {
	local := netip.MustParseAddrPort("0.0.0.0:0")
	if dst.Addr().Is6() {
		local = netip.MustParseAddrPort("[::]:0")
	}
	tr, err := stun.ListenUDP(local)
	if err != nil {
		return netip.AddrPort{}, err
	}
	defer tr.Close()
	type outcome struct {
		mapped netip.AddrPort
		err    error
	}
	done := make(chan outcome, 1)
	s, err := stun.Create(stun.Config{Logger: log}, "binding-client", stun.Callbacks{
		OnSendMsg: tr.Send,
		OnRequestComplete: func(_ *stun.Session, status error, _ any, _ *stun.TxData, res *pionstun.Message, _ netip.AddrPort) {
			if status != nil {
				done <- outcome{err: status}
				return
			}
			a, ok := stun.XORAddress(res, pionstun.AttrXORMappedAddress)
			if !ok {
				done <- outcome{err: errors.New("no XOR-MAPPED-ADDRESS in the response")}
				return
			}
			done <- outcome{mapped: a}
		},
	}, true)
	if err != nil {
		return netip.AddrPort{}, err
	}
	defer s.Destroy()
	if cred != nil {
		s.SetCredential(stun.AuthShortTerm, cred)
	}
	tr.Serve(s)
	td, err := s.CreateReq(pionstun.MethodBinding, stun.MagicCookie, nil)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if err := s.SendMsg(nil, false, true, dst, td); err != nil {
		return netip.AddrPort{}, err
	}
	select {
	case o := <-done:
		return o.mapped, o.err
	case <-time.After(10 * time.Second):
		return netip.AddrPort{}, errors.New("no answer")
	}
}

func both(log *slog.Logger, cred *stun.Credential) error {
	srv, err := Serve(log, "127.0.0.1:0", cred)
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Println("STUN Binding server on", srv.Transport.LocalAddr())
	start := time.Now()
	mapped, err := Ask(log, srv.Transport.LocalAddr(), cred)
	if err != nil {
		return err
	}
	fmt.Printf("reflexive address: %v (answered in %v)\n", mapped, time.Since(start).Round(time.Microsecond))
	return nil
}
