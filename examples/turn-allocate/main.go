// Command turn-allocate allocates a relayed address on a TURN server with
// mediaport's allocation endpoint, binds a channel to a peer, sends to it
// through the relay and prints the relayed address and the round-trip
// times. With no flags it needs no setup: the server is an in-process
// pion/turn server and the peer a local UDP echo.
//
//	go run ./examples/turn-allocate
//	go run ./examples/turn-allocate -server 127.0.0.1:3478 -user alice -pass secret -peer 127.0.0.1:9999
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/turn"
	pionturn "github.com/pion/turn/v4"
)

// Options are the flags.
type Options struct {
	Server     string // empty: an in-process pion/turn server
	User, Pass string
	Peer       string // empty: a local UDP echo
	Count      int
}

func main() {
	var o Options
	flag.StringVar(&o.Server, "server", "", "TURN server (default: an in-process pion/turn server)")
	flag.StringVar(&o.User, "user", "alice", "long-term username")
	flag.StringVar(&o.Pass, "pass", "secret", "long-term password")
	flag.StringVar(&o.Peer, "peer", "", "UDP peer that echoes (default: a local echo)")
	flag.IntVar(&o.Count, "n", 5, "round trips")
	verbose := flag.Bool("v", false, "debug logging")
	flag.Parse()
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	if err := Run(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})), o); err != nil {
		fmt.Fprintln(os.Stderr, "turn-allocate:", err)
		os.Exit(1)
	}
}

// Run allocates, relays o.Count round trips and releases the allocation.
func Run(log *slog.Logger, o Options) error {
	var server netip.AddrPort
	if o.Server == "" {
		s, addr, err := startTURN(netip.MustParseAddrPort("127.0.0.1:0"), "example.org", o.User, o.Pass)
		if err != nil {
			return err
		}
		defer s.Close()
		server = addr
		fmt.Println("in-process pion/turn server on", server)
	} else {
		var err error
		if server, err = netip.ParseAddrPort(o.Server); err != nil {
			return err
		}
	}
	var peer netip.AddrPort
	if o.Peer == "" {
		echo, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return err
		}
		defer echo.Close()
		go func() {
			buf := make([]byte, 65536)
			for {
				n, src, err := echo.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				echo.WriteToUDPAddrPort(buf[:n], src)
			}
		}()
		peer = echo.LocalAddr().(*net.UDPAddr).AddrPort()
	} else {
		var err error
		if peer, err = netip.ParseAddrPort(o.Peer); err != nil {
			return err
		}
	}

	mod, err := mediaport.OpenModule(mediaport.Options{Logger: log})
	if err != nil {
		return err
	}
	defer mod.Close()
	a, err := turn.Create(mod)
	if err != nil {
		return err
	}
	local := netip.MustParseAddrPort("0.0.0.0:0")
	if server.Addr().IsLoopback() {
		local = netip.AddrPortFrom(server.Addr(), 0)
	}
	start := time.Now()
	if err := a.Config(turn.Config{Server: server, Username: o.User, Password: o.Pass, Local: local}); err != nil {
		return err
	}
	ev, _ := a.Event()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		st, err := a.Status()
		if err != nil {
			return err
		}
		if st == turn.Allocated {
			break
		}
		if st == turn.Failed {
			return fmt.Errorf("allocation failed: %w", a.Err())
		}
		if err := ev.Wait(ctx); err != nil {
			return errors.New("no answer from the TURN server")
		}
	}
	relay, _ := a.RelayedAddr()
	mapped, _ := a.MappedAddr()
	fmt.Printf("allocated in %v: relayed %v, mapped %v, lifetime %v\n", time.Since(start).Round(time.Microsecond), relay, mapped, a.Lifetime())
	ch, err := a.ChannelBind(ctx, peer)
	if err != nil {
		return fmt.Errorf("channel bind: %w", err)
	}
	fmt.Printf("channel %#x bound to %v\n", ch, peer)
	buf := make([]byte, 2048)
	for i := 0; i < o.Count; i++ {
		msg := fmt.Sprintf("relayed round trip %d", i+1)
		t0 := time.Now()
		if err := a.SendTo(peer, []byte(msg)); err != nil {
			return err
		}
		for {
			n, from, err := a.GetPacket(buf)
			if err == nil {
				fmt.Printf("%q back from %v in %v\n", buf[:n], from, time.Since(t0).Round(time.Microsecond))
				break
			}
			if !errors.Is(err, turn.ErrNoPacket) {
				return err
			}
			if err := ev.Wait(ctx); err != nil {
				return fmt.Errorf("round trip %d: no echo from %v", i+1, peer)
			}
		}
	}
	return a.Stop() // Refresh with LIFETIME 0
}

// startTURN runs an in-process pion/turn server on addr (port 0: the system
// picks one) with one long-term user, relaying on addr's IP, and returns it
// with the address clients talk to. Close stops it.
func startTURN(addr netip.AddrPort, realm, user, password string) (*pionturn.Server, netip.AddrPort, error) {
	pc, err := net.ListenPacket("udp4", addr.String())
	if err != nil {
		return nil, netip.AddrPort{}, err
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
				RelayAddress: net.IP(addr.Addr().AsSlice()),
				Address:      addr.Addr().String(),
			},
		}},
	})
	if err != nil {
		pc.Close()
		return nil, netip.AddrPort{}, err
	}
	return srv, pc.LocalAddr().(*net.UDPAddr).AddrPort(), nil
}
