// Command pipeline is mediaport's main job end to end, in one process on
// loopback with no outside setup: two media endpoints, A and B, each a
// VMP[rx] with RTP and RTCP on one port (rtcp-mux) and a UDP dispatcher
// that sends from that port.
//
//  1. ports: each VMP[rx] binds its port and reports GotPorts.
//  2. ice: an ICE-lite STUN responder (short-term credentials) sits on each
//     media port; A checks B and B checks A, and each learns the address the
//     other saw.
//  3. dtls: a terminated DTLS 1.2 association on each media port (A client,
//     B server), ECDSA certificates pinned by SHA-256 fingerprint as SDP
//     carries them (a=fingerprint), DTLS-SRTP negotiated.
//  4. srtp: the exported SRTP master keys and salts match crosswise (A's
//     local key is B's remote key and the reverse).
//  5. turn (with -turn): A allocates on an embedded TURN server (pion/turn,
//     in process) and binds a channel to B's media port.
//  6. rtp: RTP packets with a counter payload flow both ways (A to B through
//     the relay with -turn) and are read with VMP[rx] GetPacket, one RTCP
//     sender report each way too; each side sees the other's SSRC as new.
//  7. stop: everything stops and is destroyed; the association sends
//     close_notify.
//
// It prints a summary with the time each stage took and exits non-zero when
// a stage fails.
//
//	go run ./examples/pipeline [-n 50] [-turn] [-wrong-fingerprint] [-v]
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dispatcher"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/stun"
	"github.com/mediaport/mediaport/turn"
	"github.com/mediaport/mediaport/vmprx"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	pionturn "github.com/pion/turn/v4"
)

func main() {
	n := flag.Int("n", 50, "RTP packets each way")
	relay := flag.Bool("turn", false, "relay the A→B RTP leg through an embedded TURN server")
	wrong := flag.Bool("wrong-fingerprint", false, "let B pin the wrong fingerprint (the dtls stage must fail)")
	timeout := flag.Duration("timeout", 20*time.Second, "limit for the whole run")
	verbose := flag.Bool("v", false, "debug logging")
	flag.Parse()
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	r, err := Run(ctx, log, Options{Packets: *n, TURN: *relay, WrongFingerprint: *wrong})
	r.Print(os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		os.Exit(1)
	}
}

// Options select what Run does.
type Options struct {
	Packets int  // RTP packets each way (default 50)
	TURN    bool // relay the A→B RTP leg through an embedded TURN server
	// WrongFingerprint makes B pin a fingerprint that is not A's, as an
	// SDP answer from the wrong party would: the dtls stage must fail.
	WrongFingerprint bool
}

// Stage is one step of the run.
type Stage struct {
	Name   string
	Took   time.Duration
	Detail string
	Err    error
}

// Report is what a run did, stage by stage; Run fills in what it reached.
type Report struct {
	Stages     []Stage
	PortA      netip.AddrPort // A's media port
	PortB      netip.AddrPort // B's media port
	SeenByB    netip.AddrPort // A's address as B's ICE-lite check reported it
	SeenByA    netip.AddrPort
	Profile    association.SRTPProfile
	KeysMatch  bool
	Relayed    netip.AddrPort // A's relayed address (with TURN)
	RTPFromA   netip.AddrPort // where B's RTP from A came from
	RTPAtoB    int            // RTP packets B read, in order and intact
	RTPBtoA    int
	RTCPAtoB   int
	RTCPBtoA   int
	NewSSRCAtB uint32 // the SSRC B's VMP[rx] reported as new
	NewSSRCAtA uint32
}

// Print writes the summary.
func (r *Report) Print(w io.Writer) {
	var total time.Duration
	for _, s := range r.Stages {
		total += s.Took
		mark := "ok  "
		if s.Err != nil {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "%s %-6s %9s  %s\n", mark, s.Name, s.Took.Round(10*time.Microsecond), s.Detail)
		if s.Err != nil {
			fmt.Fprintf(w, "            %v\n", s.Err)
		}
	}
	fmt.Fprintf(w, "     total  %9s\n", total.Round(10*time.Microsecond))
}

func (r *Report) stage(log *slog.Logger, name string, f func() (string, error)) error {
	start := time.Now()
	detail, err := f()
	s := Stage{Name: name, Took: time.Since(start), Detail: detail, Err: err}
	r.Stages = append(r.Stages, s)
	if err != nil {
		log.Error("stage failed", "stage", name, "err", err)
		return fmt.Errorf("%s: %w", name, err)
	}
	log.Debug("stage done", "stage", name, "took", s.Took, "detail", detail)
	return nil
}

// side is one media endpoint.
type side struct {
	name    string
	v       *vmprx.VMPRx
	port    netip.AddrPort
	ice     *stun.ICELite
	rx      *dtlsrx.DTLSRx
	tx      *dtlstx.DTLSTx
	assoc   *association.Association
	d       *dispatcher.Dispatcher
	ssrc    uint32 // of the RTP this side sends
	newSSRC uint32 // the last SSRC this side's VMP[rx] reported as new
	cert    tls.Certificate
	fp      string // a=fingerprint value of cert
	ufrag   string
	pwd     string
	buf     []byte
}

var loopback = netip.MustParseAddr("127.0.0.1")

// Run runs every stage in order and stops at the first that fails. The
// report says what was reached either way.
func Run(ctx context.Context, log *slog.Logger, o Options) (r *Report, err error) {
	r = &Report{}
	if o.Packets <= 0 {
		o.Packets = 50
	}
	mod, err := mediaport.OpenModule(mediaport.Options{Logger: log})
	if err != nil {
		return r, err
	}
	defer mod.Close() // stops and destroys whatever a failed stage left
	a := &side{name: "A", ssrc: 0xA0A0A0A0, ufrag: "aUfr", pwd: "a-password-0123456789-abcd"}
	b := &side{name: "B", ssrc: 0xB0B0B0B0, ufrag: "bUfr", pwd: "b-password-0123456789-abcd"}

	if err := r.stage(log, "ports", func() (string, error) {
		for _, s := range []*side{a, b} {
			if err := s.open(ctx, mod); err != nil {
				return "", err
			}
		}
		r.PortA, r.PortB = a.port, b.port
		return fmt.Sprintf("A %v, B %v (RTP and RTCP on one port)", a.port, b.port), nil
	}); err != nil {
		return r, err
	}

	if err := r.stage(log, "ice", func() (string, error) {
		if err := a.startICE(mod, b); err != nil {
			return "", err
		}
		if err := b.startICE(mod, a); err != nil {
			return "", err
		}
		var err error
		if r.SeenByB, err = a.ice.Check(ctx, b.port); err != nil {
			return "", fmt.Errorf("check from A to B: %w", err)
		}
		if r.SeenByA, err = b.ice.Check(ctx, a.port); err != nil {
			return "", fmt.Errorf("check from B to A: %w", err)
		}
		if r.SeenByB != a.port || r.SeenByA != b.port {
			return "", fmt.Errorf("mapped addresses %v and %v, want %v and %v", r.SeenByB, r.SeenByA, a.port, b.port)
		}
		return fmt.Sprintf("A→B Binding success, B saw %v; B→A success, A saw %v", r.SeenByB, r.SeenByA), nil
	}); err != nil {
		return r, err
	}

	if err := r.stage(log, "dtls", func() (string, error) {
		for i, s := range []*side{a, b} {
			if err := s.newCert(mod, mediaport.CredTag(i+1)); err != nil {
				return "", err
			}
		}
		pinA := a.fp
		if o.WrongFingerprint {
			pinA = association.Fingerprint(b.cert.Certificate[0])
		}
		profiles := []association.SRTPProfile{association.SRTP_AEAD_AES_128_GCM, association.SRTP_AES128_CM_HMAC_SHA1_80}
		// B first, so that A's first flight finds a server.
		if err := b.bindDTLS(mod, a, association.Config{Role: association.Server, Tags: []mediaport.CredTag{2},
			PeerFingerprints: []string{"a=fingerprint:" + pinA}, SRTPProfiles: profiles}); err != nil {
			return "", err
		}
		if err := a.bindDTLS(mod, b, association.Config{Role: association.Client, Tags: []mediaport.CredTag{1},
			PeerFingerprints: []string{"a=fingerprint:" + b.fp}, SRTPProfiles: profiles}); err != nil {
			return "", err
		}
		for _, s := range []*side{a, b} {
			if err := s.waitHandshake(ctx); err != nil {
				return "", err
			}
		}
		info, err := a.assoc.Info()
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s, A pinned B's %s…, B pinned A's %s…", info.CipherSuiteName, b.fp[:22], a.fp[:22]), nil
	}); err != nil {
		return r, err
	}

	if err := r.stage(log, "srtp", func() (string, error) {
		ka, err := a.assoc.SRTPKeys()
		if err != nil {
			return "", err
		}
		kb, err := b.assoc.SRTPKeys()
		if err != nil {
			return "", err
		}
		r.Profile = ka.Profile
		r.KeysMatch = ka.Profile == kb.Profile && len(ka.LocalKey) > 0 &&
			bytes.Equal(ka.LocalKey, kb.RemoteKey) && bytes.Equal(ka.LocalSalt, kb.RemoteSalt) &&
			bytes.Equal(ka.RemoteKey, kb.LocalKey) && bytes.Equal(ka.RemoteSalt, kb.LocalSalt) &&
			!bytes.Equal(ka.LocalKey, ka.RemoteKey)
		if !r.KeysMatch {
			return "", fmt.Errorf("SRTP keys do not pair up: A %x/%x, B %x/%x", ka.LocalKey, ka.RemoteKey, kb.LocalKey, kb.RemoteKey)
		}
		return fmt.Sprintf("%v: A local = B remote %s…, B local = A remote %s…", ka.Profile,
			hex.EncodeToString(ka.LocalKey[:6]), hex.EncodeToString(kb.LocalKey[:6])), nil
	}); err != nil {
		return r, err
	}

	// A's RTP goes out through its dispatcher, from its media port, or
	// through the relay.
	sendA := func(p []byte) error { return a.d.Send(p) }
	var srv *pionturn.Server
	var al *turn.Allocation
	defer func() {
		if srv != nil {
			srv.Close()
		}
	}()
	if o.TURN {
		if err := r.stage(log, "turn", func() (string, error) {
			var err error
			var server netip.AddrPort
			if srv, server, err = startTURN(netip.AddrPortFrom(loopback, 0), turnRealm, turnUser, turnPassword); err != nil {
				return "", err
			}
			if al, err = allocate(ctx, mod, server); err != nil {
				return "", err
			}
			r.Relayed, _ = al.RelayedAddr()
			ch, err := al.ChannelBind(ctx, b.port)
			if err != nil {
				return "", fmt.Errorf("ChannelBind: %w", err)
			}
			sendA = func(p []byte) error { return al.SendTo(b.port, p) }
			return fmt.Sprintf("server %v, relayed %v, channel %#04x to B %v", server, r.Relayed, ch, b.port), nil
		}); err != nil {
			return r, err
		}
	}

	if err := r.stage(log, "rtp", func() (string, error) {
		var err error
		if a.d, err = newDispatcher(mod, a.port, b.port); err != nil {
			return "", err
		}
		if b.d, err = newDispatcher(mod, b.port, a.port); err != nil {
			return "", err
		}
		pkt := make([]byte, 0, 1500)
		for i := 0; i < o.Packets; i++ {
			if err := sendA(rtpPacket(pkt, a.ssrc, i)); err != nil {
				return "", fmt.Errorf("sending RTP %d from A: %w", i, err)
			}
			if err := b.d.Send(rtpPacket(pkt, b.ssrc, i)); err != nil {
				return "", fmt.Errorf("sending RTP %d from B: %w", i, err)
			}
			src, err := b.readRTP(ctx, a.ssrc, i)
			if err != nil {
				return "", err
			}
			r.RTPFromA = src
			r.RTPAtoB++
			if _, err := a.readRTP(ctx, b.ssrc, i); err != nil {
				return "", err
			}
			r.RTPBtoA++
		}
		if o.TURN {
			if r.RTPFromA != r.Relayed {
				return "", fmt.Errorf("RTP from A reached B from %v, want the relayed address %v", r.RTPFromA, r.Relayed)
			}
		} else if r.RTPFromA != a.port {
			return "", fmt.Errorf("RTP from A reached B from %v, want A's media port %v", r.RTPFromA, a.port)
		}
		r.NewSSRCAtB, r.NewSSRCAtA = b.newSSRC, a.newSSRC
		if r.NewSSRCAtB != a.ssrc || r.NewSSRCAtA != b.ssrc {
			return "", fmt.Errorf("new SSRCs reported %#x at B and %#x at A, want %#x and %#x", r.NewSSRCAtB, r.NewSSRCAtA, a.ssrc, b.ssrc)
		}
		// One RTCP sender report each way, on the same port (rtcp-mux).
		if err := sendA(rtcpSR(pkt, a.ssrc, o.Packets)); err != nil {
			return "", err
		}
		if err := b.d.Send(rtcpSR(pkt, b.ssrc, o.Packets)); err != nil {
			return "", err
		}
		if err := b.readRTCP(ctx, a.ssrc); err != nil {
			return "", err
		}
		r.RTCPAtoB++
		if err := a.readRTCP(ctx, b.ssrc); err != nil {
			return "", err
		}
		r.RTCPBtoA++
		leg := "direct"
		if o.TURN {
			leg = "relayed via " + r.Relayed.String()
		}
		return fmt.Sprintf("%d RTP + %d RTCP A→B (%s), %d RTP + %d RTCP B→A, in order, intact", r.RTPAtoB, r.RTCPAtoB, leg, r.RTPBtoA, r.RTCPBtoA), nil
	}); err != nil {
		return r, err
	}

	if err := r.stage(log, "stop", func() (string, error) {
		// A's DTLS[tx] Stop sends close_notify; B's DTLS[rx] then stops.
		if err := a.tx.Stop(); err != nil {
			return "", err
		}
		if st, err := waitDTLS(ctx, b.rx, dtlsrx.Stopped); err != nil || st != dtlsrx.Stopped {
			return "", fmt.Errorf("after close_notify from A, B's DTLS[rx] is %v (%v)", st, err)
		}
		for _, s := range []*side{a, b} {
			if err := s.close(ctx); err != nil {
				return "", err
			}
		}
		detail := "close_notify A→B; every endpoint Stopped and destroyed"
		if al != nil {
			// Stop sends a Refresh with LIFETIME 0: the server frees the relay.
			if err := al.Stop(); err != nil {
				return "", err
			}
			if err := al.Destroy(); err != nil {
				return "", err
			}
			detail += "; allocation released"
		}
		return detail, nil
	}); err != nil {
		return r, err
	}
	return r, nil
}

// open creates and configures the VMP[rx] and waits for GotPorts.
func (s *side) open(ctx context.Context, mod *mediaport.Module) error {
	var err error
	s.buf = make([]byte, 1500)
	if s.v, err = vmprx.Create(mod); err != nil {
		return err
	}
	if err := s.v.Config(vmprx.Config{Local: loopback, RTCPMux: true}); err != nil {
		return err
	}
	ev, err := s.v.Event()
	if err != nil {
		return err
	}
	for {
		st, err := s.v.Status()
		if err != nil {
			return err
		}
		if st == vmprx.GotPorts {
			break
		}
		if st == vmprx.Stopped {
			return fmt.Errorf("%s: VMP[rx] stopped before binding", s.name)
		}
		if err := ev.Wait(ctx); err != nil {
			return err
		}
	}
	s.port, _, err = s.v.Ports()
	return err
}

// startICE puts an ICE-lite responder on the media port; peer's
// credentials let it send checks too.
func (s *side) startICE(mod *mediaport.Module, peer *side) error {
	var err error
	s.ice, err = stun.NewICELite(stun.ICELiteConfig{
		Config:     stun.ModuleConfig(mod),
		LocalUfrag: s.ufrag, LocalPassword: s.pwd,
		RemoteUfrag: peer.ufrag, RemotePassword: peer.pwd,
		Software:  "mediaport pipeline",
		OnSendMsg: s.v.SendSTUN,
	})
	if err != nil {
		return err
	}
	return s.v.AttachSTUN(s.ice.Session())
}

// newCert makes a self-signed ECDSA P-256 certificate, adds it to the
// module's credentials under tag, and computes its fingerprint.
func (s *side) newCert(mod *mediaport.Module, tag mediaport.CredTag) error {
	cert, err := selfsign.GenerateSelfSignedWithDNS("mediaport pipeline " + s.name)
	if err != nil {
		return err
	}
	s.cert = cert
	s.fp = association.Fingerprint(cert.Certificate[0]) // "sha-256 AB:CD:…"
	return mod.AddCredential(mediaport.Credential{Tag: tag, Type: mediaport.CredECDSA, ECDSA: mediaport.ECDSA{Certificate: s.cert}})
}

// bindDTLS creates the DTLS[rx] (fed by the VMP[rx]) and the DTLS[tx]
// (sending from the media port) and binds a terminated association.
func (s *side) bindDTLS(mod *mediaport.Module, peer *side, cfg association.Config) error {
	var err error
	if s.rx, err = dtlsrx.Create(mod); err != nil {
		return err
	}
	if err := s.v.ConfigDTLS(s.rx, false); err != nil {
		return err
	}
	if s.tx, err = dtlstx.Create(mod); err != nil {
		return err
	}
	if err := s.tx.Config(dtlstx.Config{Destination: peer.port, Local: s.port}); err != nil {
		return err
	}
	if shared, _ := s.tx.SharesSocket(); !shared {
		return fmt.Errorf("%s: DTLS[tx] does not send from the media port %v", s.name, s.port)
	}
	s.assoc, err = association.Bind(s.rx, s.tx, cfg)
	return err
}

func (s *side) waitHandshake(ctx context.Context) error {
	st, err := waitDTLS(ctx, s.rx, dtlsrx.Handshake)
	if err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	if st != dtlsrx.Handshake {
		return fmt.Errorf("%s: DTLS[rx] %v before the handshake completed", s.name, st)
	}
	return nil
}

// waitDTLS waits until the DTLS[rx] reports want or Stopped, and returns
// the status reached (with Err, why it stopped, for a failed handshake).
func waitDTLS(ctx context.Context, rx *dtlsrx.DTLSRx, want dtlsrx.Status) (dtlsrx.Status, error) {
	ev, err := rx.Event()
	if err != nil {
		return 0, err
	}
	for {
		st, err := rx.Status()
		if err != nil {
			return st, err
		}
		if st == dtlsrx.Stopped {
			return st, rx.Err() // why it stopped: a failed handshake, say
		}
		if st == want {
			return st, nil
		}
		if err := ev.Wait(ctx); err != nil {
			return st, fmt.Errorf("waiting for %v (last %v): %w", want, st, err)
		}
	}
}

// The embedded TURN server's one long-term user.
const (
	turnRealm    = "mediaport.example"
	turnUser     = "alice"
	turnPassword = "alice-secret"
)

func allocate(ctx context.Context, mod *mediaport.Module, server netip.AddrPort) (*turn.Allocation, error) {
	al, err := turn.Create(mod)
	if err != nil {
		return nil, err
	}
	if err := al.Config(turn.Config{Server: server, Username: turnUser, Password: turnPassword,
		Local: netip.AddrPortFrom(loopback, 0)}); err != nil {
		return nil, err
	}
	ev, err := al.Event()
	if err != nil {
		return nil, err
	}
	for {
		st, err := al.Status()
		if err != nil {
			return nil, err
		}
		switch st {
		case turn.Allocated:
			return al, nil
		case turn.Failed, turn.Stopped:
			return nil, fmt.Errorf("allocation %v: %w", st, al.Err())
		}
		if err := ev.Wait(ctx); err != nil {
			return nil, fmt.Errorf("allocation %v: %w", st, err)
		}
	}
}

// newDispatcher returns a dispatcher that sends to dst from the media port
// port: it shares the port's socket, so the peer gets RTP from the address
// its ICE checks and DTLS use.
func newDispatcher(mod *mediaport.Module, port, dst netip.AddrPort) (*dispatcher.Dispatcher, error) {
	// TOS 0xb8: DSCP EF, as for voice; on the shared socket it goes with
	// each datagram and leaves STUN and DTLS alone.
	return dispatcher.Create(mod, dispatcher.Config{Destination: dst, Local: port, TOS: 0xb8})
}

// rtpPacket builds RTP packet i of a PCMU stream: sequence number and
// timestamp follow i, and the 160-byte payload starts with i.
func rtpPacket(b []byte, ssrc uint32, i int) []byte {
	b = append(b[:0], 0x80, 0) // V=2, PT 0 (PCMU)
	b = binary.BigEndian.AppendUint16(b, uint16(1000+i))
	b = binary.BigEndian.AppendUint32(b, uint32(160*i))
	b = binary.BigEndian.AppendUint32(b, ssrc)
	b = binary.BigEndian.AppendUint32(b, uint32(i))
	for k := 4; k < 160; k++ {
		b = append(b, byte(i+k))
	}
	return b
}

// rtcpSR builds an RTCP sender report (PT 200) with no report blocks.
func rtcpSR(b []byte, ssrc uint32, packets int) []byte {
	b = append(b[:0], 0x80, 200, 0, 6)
	b = binary.BigEndian.AppendUint32(b, ssrc)
	b = binary.BigEndian.AppendUint64(b, 0) // NTP timestamp
	b = binary.BigEndian.AppendUint32(b, uint32(160*packets))
	b = binary.BigEndian.AppendUint32(b, uint32(packets))
	b = binary.BigEndian.AppendUint32(b, uint32(packets*(12+160)))
	return b
}

// next waits for the next packet the VMP[rx] queues and returns it, in the
// Prosody way: read the status (a new SSRC is noted), get the packet, else
// wait on the event.
func (s *side) next(ctx context.Context) ([]byte, vmprx.Packet, error) {
	ev, err := s.v.Event()
	if err != nil {
		return nil, vmprx.Packet{}, err
	}
	for {
		st, err := s.v.Status()
		switch {
		case err != nil:
			return nil, vmprx.Packet{}, err
		case st == vmprx.NewSSRC:
			if s.newSSRC, err = s.v.NewSSRC(); err != nil {
				return nil, vmprx.Packet{}, err
			}
		case st == vmprx.Overrun:
			return nil, vmprx.Packet{}, fmt.Errorf("%s: VMP[rx] overrun", s.name)
		case st == vmprx.Stopped:
			return nil, vmprx.Packet{}, fmt.Errorf("%s: VMP[rx] stopped", s.name)
		}
		p, err := s.v.GetPacket(s.buf)
		if err == nil {
			return s.buf[:p.Len], p, nil
		}
		if !errors.Is(err, vmprx.ErrNoPacket) {
			return nil, p, fmt.Errorf("%s: GetPacket: %w", s.name, err)
		}
		if err := ev.Wait(ctx); err != nil {
			return nil, p, fmt.Errorf("%s: waiting for a packet: %w", s.name, err)
		}
	}
}

// readRTP reads the next packet and checks it is RTP packet i from ssrc.
func (s *side) readRTP(ctx context.Context, ssrc uint32, i int) (netip.AddrPort, error) {
	b, p, err := s.next(ctx)
	if err != nil {
		return netip.AddrPort{}, err
	}
	want := rtpPacket(make([]byte, 0, 172), ssrc, i)
	if p.Class != vmprx.ClassRTP || !bytes.Equal(b, want) {
		return p.Src, fmt.Errorf("%s: packet %d is %v %x…, want RTP %x…", s.name, i, p.Class, b[:min(len(b), 16)], want[:16])
	}
	return p.Src, nil
}

func (s *side) readRTCP(ctx context.Context, ssrc uint32) error {
	b, p, err := s.next(ctx)
	if err != nil {
		return err
	}
	if p.Class != vmprx.ClassRTCP || len(b) < 8 || b[1] != 200 || binary.BigEndian.Uint32(b[4:]) != ssrc {
		return fmt.Errorf("%s: got %v %x, want an RTCP SR from %#x", s.name, p.Class, b, ssrc)
	}
	return nil
}

// close stops the side's endpoints, waits for the VMP[rx]'s final status
// and destroys them.
func (s *side) close(ctx context.Context) error {
	if err := s.ice.Close(); err != nil {
		return err
	}
	for _, stop := range []func() error{s.tx.Stop, s.rx.Stop, s.d.Stop, s.v.Stop} {
		if err := stop(); err != nil && !errors.Is(err, mediaport.ErrStopped) {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	ev, err := s.v.Event()
	if err != nil {
		return err
	}
	if err := ev.Wait(ctx); err != nil {
		return err
	}
	if st, _ := s.v.Status(); st != vmprx.Stopped {
		return fmt.Errorf("%s: VMP[rx] %v after Stop", s.name, st)
	}
	for _, destroy := range []func() error{s.tx.Destroy, s.rx.Destroy, s.d.Destroy, s.v.Destroy} {
		if err := destroy(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
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
