package association_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/protocol/extension"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/internal/testutil"
)

// startPion runs a pion/dtls peer's handshake on p towards peer, with
// opts as given (client or server), in the background.
func (p *pionPeer) startWith(t *testing.T, client bool, peer net.Addr, opts []dtls.Option, srvOpts ...dtls.ServerOption) {
	t.Helper()
	var err error
	if client {
		var co []dtls.ClientOption
		for _, o := range opts {
			co = append(co, o)
		}
		p.conn, err = dtls.ClientWithOptions(p.pc, peer, co...)
	} else {
		so := append([]dtls.ServerOption{}, srvOpts...)
		for _, o := range opts {
			so = append(so, o)
		}
		p.conn, err = dtls.ServerWithOptions(p.pc, peer, so...)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	go func() { p.done <- p.conn.HandshakeContext(ctx); cancel() }()
	t.Cleanup(func() { cancel(); p.conn.Close(); <-p.done })
}

func withoutRI(exts []extension.Extension) []extension.Extension {
	var out []extension.Extension
	for _, e := range exts {
		if _, ok := e.(*extension.RenegotiationInfo); !ok {
			out = append(out, e)
		}
	}
	return out
}

// extCase is one handshake of TestForceExtensions: mediaport in role,
// with force set or not, against a pion peer that lacks (or has) the
// extension.
type extCase struct {
	name    string
	role    association.Role
	force   bool
	lacks   bool  // the peer lacks the extension
	cause   error // nil: the handshake completes
	ems, ri bool  // which option
}

// TestForceExtensions (docs/conformance.md, RIOT 14): with
// ForceExtendedMasterSecret / ForceRenegotiationInfo a peer without the
// extension fails the handshake at once, in both roles, with
// ErrNoExtendedMasterSecret / ErrNoRenegotiationInfo and a fatal alert to
// the peer; without the option the same peer completes, and with it a
// peer that has the extension completes.
func TestForceExtensions(t *testing.T) {
	ours, theirs := testutil.SelfSignedCert(t, "mediaport"), testutil.SelfSignedCert(t, "pion")
	var cases []extCase
	for _, role := range []association.Role{association.Server, association.Client} {
		for _, ext := range []string{"ems", "ri"} {
			cause := association.ErrNoExtendedMasterSecret
			if ext == "ri" {
				cause = association.ErrNoRenegotiationInfo
			}
			for _, c := range []struct {
				force, lacks bool
				cause        error
			}{{false, true, nil}, {true, true, cause}, {true, false, nil}} {
				name := role.String() + "/" + ext
				if c.force {
					name += "/forced"
				}
				if c.lacks {
					name += "/peer-without"
				}
				cases = append(cases, extCase{name, role, c.force, c.lacks, c.cause, ext == "ems", ext == "ri"})
			}
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSide(t, frozenModule(t, ours))
			p := newPionSocket(t)
			cfg := association.Config{Role: tc.role, Tags: []mediaport.CredTag{1}, HandshakeTimeout: 5 * time.Second,
				ForceExtendedMasterSecret: tc.force && tc.ems, ForceRenegotiationInfo: tc.force && tc.ri}
			opts := []dtls.Option{dtls.WithCertificates(theirs.TLS), dtls.WithInsecureSkipVerify(true), dtls.WithFlightInterval(100 * time.Millisecond)}
			var srvOpts []dtls.ServerOption
			if tc.lacks && tc.ems {
				opts = append(opts, dtls.WithExtendedMasterSecret(dtls.DisableExtendedMasterSecret))
			}
			if tc.lacks && tc.ri {
				opts = append(opts, dtls.WithClientHelloMessageHook(func(m handshake.MessageClientHello) handshake.Message {
					m.Extensions = withoutRI(m.Extensions)
					return &m
				}))
				srvOpts = append(srvOpts, dtls.WithServerHelloMessageHook(func(m handshake.MessageServerHello) handshake.Message {
					m.Extensions = withoutRI(m.Extensions)
					return &m
				}))
			}
			if tc.role == association.Server {
				s.bind(t, p.addr, cfg)
				p.startWith(t, true, net.UDPAddrFromAddrPort(s.port), opts)
			} else {
				p.startWith(t, false, net.UDPAddrFromAddrPort(s.port), opts, append(srvOpts, dtls.WithClientAuth(dtls.RequireAnyClientCert))...)
				s.bind(t, p.addr, cfg)
			}
			if tc.cause == nil {
				waitEstablished(t, s)
				if err := p.result(t); err != nil {
					t.Fatalf("pion peer: %v", err)
				}
				return
			}
			err := s.waitFailed(t, "mediaport", testutil.Patience)
			if !errors.Is(err, tc.cause) || errors.Is(err, association.ErrHandshakeTimeout) {
				t.Fatalf("mediaport: %v, want %v at once", err, tc.cause)
			}
			var al *association.AlertError
			if !errors.As(err, &al) || !al.Fatal {
				t.Fatalf("mediaport: %v: no fatal alert", err)
			}
			if perr := p.result(t); perr == nil {
				t.Fatal("the pion peer completed its handshake")
			}
		})
	}
}
