package main

import (
	"crypto/rand"
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
)

//go:embed index.html
var indexHTML []byte

// Config configures a Server.
type Config struct {
	// Local is the address media ports bind (default 127.0.0.1).
	Local netip.Addr
	// Role is the DTLS role answered when the page does not ask for one
	// (default Passive).
	Role Role
	// Tag is the credential tag of the server's certificate (default 1).
	Tag mediaport.CredTag
}

// Server answers WebRTC offers over HTTP and runs each call on a mediaport
// module:
//
//	GET  /       the page (index.html)
//	POST /offer  SDP offer in, SDP answer out (?id=call id&setup=active|passive)
//	POST /log    the page's reports (JSON); the reply is a command for it
type Server struct {
	mod         *mediaport.Module
	log         *slog.Logger
	local       netip.Addr
	role        Role
	tag         mediaport.CredTag
	fingerprint string

	// offerHook, if set, may change an offer before it is answered
	// (tests).
	offerHook func(*offer)

	mu      sync.Mutex
	calls   map[string]*Call
	peers   map[string]*PeerReport
	cmds    map[string]string
	stopped bool
}

// PeerReport is what a page (or another peer) reported of one session.
type PeerReport struct {
	Offer, Answer string
	Errors        []string
	Stats         PeerStats // the latest
	Reports       int       // stats reports received
	Closed        bool      // the page closed the peer connection
}

// PeerStats is the part of the browser's getStats() the tests read.
type PeerStats struct {
	// PacketsReceived is the audio inbound-rtp packetsReceived: our echo.
	PacketsReceived int `json:"packetsReceived"`
	// PacketsSent is the audio outbound-rtp packetsSent.
	PacketsSent int    `json:"packetsSent"`
	DTLSState   string `json:"dtlsState"`
	DTLSRole    string `json:"dtlsRole"`
	SRTPCipher  string `json:"srtpCipher"`
	TLSVersion  string `json:"tlsVersion"`
	ICEState    string `json:"iceState"`
	ConnState   string `json:"connectionState"`
	Channel     string `json:"channel"` // the data channel's readyState
}

// NewServer makes a certificate for the server, adds it to mod's
// credentials and returns the server. Close ends every call.
func NewServer(mod *mediaport.Module, cfg Config) (*Server, error) {
	if !cfg.Local.IsValid() {
		cfg.Local = netip.MustParseAddr("127.0.0.1")
	}
	if cfg.Role == "" {
		cfg.Role = Passive
	}
	if cfg.Tag == 0 {
		cfg.Tag = 1
	}
	cert, err := selfsign.GenerateSelfSignedWithDNS("mediaport webrtc example")
	if err != nil {
		return nil, err
	}
	if err := mod.AddCredential(mediaport.Credential{Tag: cfg.Tag, Type: mediaport.CredECDSA,
		ECDSA: mediaport.ECDSA{Certificate: cert}}); err != nil {
		return nil, err
	}
	return &Server{
		mod: mod, log: mod.Logger(), local: cfg.Local, role: cfg.Role, tag: cfg.Tag,
		fingerprint: association.Fingerprint(cert.Certificate[0]),
		calls:       map[string]*Call{}, peers: map[string]*PeerReport{}, cmds: map[string]string{},
	}, nil
}

// Close ends every call.
func (s *Server) Close() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	calls := s.calls
	s.mu.Unlock()
	for _, c := range calls {
		c.close()
	}
}

// Call returns the call with the given id, or nil.
func (s *Server) Call(id string) *Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[id]
}

// Peer returns a copy of what the peer of session id reported.
func (s *Server) Peer(id string) PeerReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.peers[id]; p != nil {
		r := *p
		r.Errors = append([]string(nil), p.Errors...)
		return r
	}
	return PeerReport{}
}

// Command sets what the reply to session id's next report tells the page:
// "close" closes its peer connection.
func (s *Server) Command(id, cmd string) {
	s.mu.Lock()
	s.cmds[id] = cmd
	s.mu.Unlock()
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(indexHTML)
	case r.URL.Path == "/offer" && r.Method == http.MethodPost:
		s.serveOffer(w, r)
	case r.URL.Path == "/log" && r.Method == http.MethodPost:
		s.serveLog(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) serveOffer(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := r.URL.Query().Get("id")
	if id == "" {
		id = randomString(8)
	}
	role := Role(r.URL.Query().Get("setup"))
	if role == "" {
		role = s.role
	}
	if role != Active && role != Passive {
		http.Error(w, "setup must be active or passive", http.StatusBadRequest)
		return
	}
	off, err := parseOffer(string(body))
	if err == nil && off.setup != "actpass" && off.setup == string(role) {
		err = fmt.Errorf("%w: the offer is a=setup:%s, we cannot answer %s", errOffer, off.setup, role)
	}
	if err != nil {
		s.log.Warn("offer refused", "id", id, "err", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if s.offerHook != nil {
		s.offerHook(off)
	}
	s.mu.Lock()
	if s.stopped || s.calls[id] != nil {
		s.mu.Unlock()
		http.Error(w, "closed or duplicate id", http.StatusConflict)
		return
	}
	s.mu.Unlock()
	c, err := s.newCall(id, off, role)
	if err != nil {
		s.log.Warn("call failed", "id", id, "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		c.close()
		http.Error(w, "closed", http.StatusConflict)
		return
	}
	s.calls[id] = c
	s.mu.Unlock()
	s.log.Info("call", "id", id, "port", c.port, "setup", role)
	w.Header().Set("Content-Type", "application/sdp")
	io.WriteString(w, c.Answer)
}

// report is one POST /log body.
type report struct {
	ID      string    `json:"id"`
	Kind    string    `json:"kind"` // offer, answer, stats, error, closed
	SDP     string    `json:"sdp"`
	Message string    `json:"message"`
	Stats   PeerStats `json:"stats"`
}

func (s *Server) serveLog(w http.ResponseWriter, r *http.Request) {
	var rep report
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&rep); err != nil || rep.ID == "" {
		http.Error(w, "bad report", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	p := s.peers[rep.ID]
	if p == nil {
		p = &PeerReport{}
		s.peers[rep.ID] = p
	}
	switch rep.Kind {
	case "offer":
		p.Offer = rep.SDP
	case "answer":
		p.Answer = rep.SDP
	case "error":
		p.Errors = append(p.Errors, rep.Message)
	case "stats":
		p.Stats = rep.Stats
		p.Reports++
	case "closed":
		p.Closed = true
	}
	cmd := s.cmds[rep.ID]
	s.mu.Unlock()
	if rep.Kind == "error" {
		s.log.Warn("page error", "id", rep.ID, "message", rep.Message)
	} else if rep.Kind != "stats" {
		s.log.Debug("page", "id", rep.ID, "kind", rep.Kind)
	}
	io.WriteString(w, cmd)
}

const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// randomString returns n random characters from alphabet (ICE ufrag and
// password characters, RFC 8839 ice-char).
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func randomUint32() uint32 {
	var b [4]byte
	rand.Read(b[:])
	if v := binary.BigEndian.Uint32(b[:]); v != 0 {
		return v
	}
	return 1
}
