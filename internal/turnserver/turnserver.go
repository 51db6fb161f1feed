// Package turnserver runs an in-process TURN server (pion/turn v4) on
// loopback for mediaport's tests: a second real TURN implementation beside
// coturn. (The examples embed pion/turn directly, as users would.)
package turnserver

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/pion/turn/v4"
)

// Server is a running pion/turn server.
type Server struct {
	Addr     netip.AddrPort // the UDP address clients talk to
	Realm    string
	User     string
	Password string
	srv      *turn.Server
}

// Start starts a TURN server on addr (port 0 picks one) with one long-term
// user; relayed addresses are allocated on addr's IP. Close stops it.
func Start(addr netip.AddrPort, realm, user, password string) (*Server, error) {
	pc, err := net.ListenPacket("udp4", addr.String())
	if err != nil {
		return nil, err
	}
	key := turn.GenerateAuthKey(user, realm, password)
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm: realm,
		AuthHandler: func(u, r string, _ net.Addr) ([]byte, bool) {
			if u == user && r == realm {
				return key, true
			}
			return nil, false
		},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: pc,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{
				RelayAddress: net.IP(addr.Addr().AsSlice()),
				Address:      addr.Addr().String(),
			},
		}},
	})
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("turnserver: %w", err)
	}
	return &Server{
		Addr:  pc.LocalAddr().(*net.UDPAddr).AddrPort(),
		Realm: realm, User: user, Password: password, srv: srv,
	}, nil
}

// Close stops the server and its relays.
func (s *Server) Close() error { return s.srv.Close() }
