package stun

// The OnRxPkt options as pjnath's (docs/conformance.md, pjnath 22) and
// MsgCheck, the equivalent of pj_stun_msg_check.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/pion/stun/v3"
)

// TestDecodeOptionValues: the options have pjnath's values, so that a
// number from C code means the same.
func TestDecodeOptionValues(t *testing.T) {
	for _, tc := range []struct {
		o    DecodeOptions
		want uint
	}{{IsDatagram, 1}, {CheckPacket, 2}, {NoAuthenticate, 4}, {NoFingerprintCheck, 8}} {
		if uint(tc.o) != tc.want {
			t.Errorf("option %d, pjnath %d", tc.o, tc.want)
		}
	}
}

// badFingerprint returns a Binding request from a session with
// FINGERPRINT, and a copy whose FINGERPRINT is wrong.
func badFingerprint(t *testing.T, h *harness) (good, bad []byte) {
	t.Helper()
	h.request(t, true, nil)
	good = h.cw.take()[0].pkt
	if binary.BigEndian.Uint16(good[len(good)-8:]) != uint16(stun.AttrFingerprint) {
		t.Fatal("the request does not end with FINGERPRINT")
	}
	bad = bytes.Clone(good)
	bad[len(bad)-1] ^= 0xff
	return good, bad
}

// TestCheckPacket: with CheckPacket an RFC 3489 request (no magic cookie)
// is answered as without it; what pj_stun_msg_check refuses is dropped
// unanswered: a first byte other than 0x00/0x01, a bad FINGERPRINT (400
// without CheckPacket).
func TestCheckPacket(t *testing.T) {
	t.Run("RFC 3489 request", func(t *testing.T) {
		h := newHarness(t, false)
		id := [12]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
		td, err := h.cli.CreateReq(stun.MethodBinding, rfc3489Magic, &id)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.cli.SendMsg(nil, false, true, srvAddr, td); err != nil {
			t.Fatal(err)
		}
		req := h.cw.take()[0].pkt
		if binary.BigEndian.Uint32(req[4:8]) == MagicCookie {
			t.Fatal("not an RFC 3489 header")
		}
		if _, err := h.srv.OnRxPkt(req, IsDatagram|CheckPacket, nil, cliAddr); err != nil {
			t.Fatalf("CheckPacket refused an RFC 3489 request: %v", err)
		}
		res := h.sw.take()
		if len(res) != 1 || res[0].pkt[0] != 0x01 || !bytes.Equal(res[0].pkt[4:20], req[4:20]) {
			t.Fatalf("RFC 3489 request with CheckPacket: answers %v", res)
		}
		if _, err := h.cli.OnRxPkt(res[0].pkt, IsDatagram|CheckPacket, nil, srvAddr); err != nil || len(h.done) != 1 || h.done[0].status != nil {
			t.Fatalf("RFC 3489 response with CheckPacket: %v, %+v", err, h.done)
		}
	})
	t.Run("bad FINGERPRINT dropped unanswered", func(t *testing.T) {
		h := newHarness(t, true)
		_, bad := badFingerprint(t, h)
		if _, err := h.srv.OnRxPkt(bad, IsDatagram|CheckPacket, nil, cliAddr); !errors.Is(err, ErrInvalidMessage) {
			t.Fatalf("bad FINGERPRINT with CheckPacket: %v", err)
		}
		if p := h.sw.take(); len(p) != 0 {
			t.Fatalf("bad FINGERPRINT with CheckPacket answered: %d", len(p))
		}
		h.srv.OnRxPkt(bad, IsDatagram, nil, cliAddr)
		if p := h.sw.take(); len(p) != 1 || errorCode(t, decode(t, p[0].pkt)) != 400 {
			t.Fatalf("bad FINGERPRINT without CheckPacket: %v", p)
		}
	})
	t.Run("first byte", func(t *testing.T) {
		h := newHarness(t, false)
		h.request(t, true, nil)
		req := bytes.Clone(h.cw.take()[0].pkt)
		req[0] = 0x02 // method bits pion decodes, pjnath's check refuses
		if _, err := h.srv.OnRxPkt(req, IsDatagram|CheckPacket, nil, cliAddr); !errors.Is(err, ErrInvalidMessage) {
			t.Fatalf("first byte 0x02 with CheckPacket: %v", err)
		}
		if p := h.sw.take(); len(p) != 0 {
			t.Fatalf("answered: %v", p)
		}
	})
}

// TestNoAuthenticateResponses: NoAuthenticate skips the MESSAGE-INTEGRITY
// check of a response to a request sent with a key, as in pjnath; without
// it the forged response is dropped (TestResponseIntegrity).
func TestNoAuthenticateResponses(t *testing.T) {
	h := newHarness(t, false)
	h.cli.SetCredential(AuthShortTerm, &Credential{Username: "u", Password: []byte("right")})
	h.request(t, true, "tok")
	rq := decode(t, h.cw.take()[0].pkt)
	forged := stun.MustBuild(stun.NewTransactionIDSetter(rq.TransactionID), stun.BindingSuccess)
	addIntegrity(forged, []byte("wrong"))
	if _, err := h.cli.OnRxPkt(forged.Raw, IsDatagram, nil, srvAddr); !errors.Is(err, ErrIntegrity) || len(h.done) != 0 {
		t.Fatalf("without NoAuthenticate: %v, %+v", err, h.done)
	}
	if _, err := h.cli.OnRxPkt(forged.Raw, IsDatagram|NoAuthenticate, nil, srvAddr); err != nil {
		t.Fatalf("with NoAuthenticate: %v", err)
	}
	if len(h.done) != 1 || h.done[0].status != nil || h.done[0].token != "tok" {
		t.Fatalf("with NoAuthenticate the response must complete the request: %+v", h.done)
	}
}

// TestNoFingerprintCheck: a wrong FINGERPRINT is not checked with
// NoFingerprintCheck: the request reaches the handler, the response
// completes its request; without, 400 and a dropped response.
func TestNoFingerprintCheck(t *testing.T) {
	h := newHarness(t, true)
	good, bad := badFingerprint(t, h)
	h.srv.OnRxPkt(bad, IsDatagram, nil, cliAddr)
	if p := h.sw.take(); len(p) != 1 || errorCode(t, decode(t, p[0].pkt)) != 400 {
		t.Fatalf("bad FINGERPRINT: %v", p)
	}
	for _, opts := range []DecodeOptions{IsDatagram | NoFingerprintCheck, IsDatagram | CheckPacket | NoFingerprintCheck} {
		if _, err := h.srv.OnRxPkt(bad, opts, nil, cliAddr); err != nil {
			t.Fatalf("options %d: %v", opts, err)
		}
		p := h.sw.take()
		if len(p) != 1 || decode(t, p[0].pkt).Type != stun.BindingSuccess {
			t.Fatalf("options %d: a bad FINGERPRINT not answered with success: %v", opts, p)
		}
	}
	// A response with a bad FINGERPRINT.
	h.srv.OnRxPkt(good, IsDatagram, nil, cliAddr)
	res := bytes.Clone(h.sw.take()[0].pkt)
	res[len(res)-1] ^= 0xff
	if _, err := h.cli.OnRxPkt(res, IsDatagram, nil, srvAddr); !errors.Is(err, ErrInvalidMessage) || len(h.done) != 0 {
		t.Fatalf("response with a bad FINGERPRINT: %v, %+v", err, h.done)
	}
	if _, err := h.cli.OnRxPkt(res, IsDatagram|NoFingerprintCheck, nil, srvAddr); err != nil || len(h.done) != 1 || h.done[0].status != nil {
		t.Fatalf("response with a bad FINGERPRINT and NoFingerprintCheck: %v, %+v", err, h.done)
	}
}

// TestMsgCheck: pj_stun_msg_check's rules.
func TestMsgCheck(t *testing.T) {
	withFP := func(magic uint32, fp func(uint32) uint32, fpLen uint16) []byte {
		b := make([]byte, 20, 28)
		binary.BigEndian.PutUint16(b[0:], 0x0001)
		binary.BigEndian.PutUint16(b[2:], 8)
		binary.BigEndian.PutUint32(b[4:], magic)
		b = binary.BigEndian.AppendUint16(b, uint16(stun.AttrFingerprint))
		b = binary.BigEndian.AppendUint16(b, fpLen)
		return binary.BigEndian.AppendUint32(b, fp(crc32.ChecksumIEEE(b[:20])^fingerprintXOR))
	}
	same := func(v uint32) uint32 { return v }
	flip := func(v uint32) uint32 { return ^v }
	bare := make([]byte, 20)
	binary.BigEndian.PutUint32(bare[4:], MagicCookie)
	rtp := append([]byte{0x80, 0x00}, make([]byte, 18)...)
	for _, tc := range []struct {
		name string
		pkt  []byte
		opts DecodeOptions
		want error // nil, ErrIncomplete or ErrInvalidMessage
	}{
		{"bare header", bare, IsDatagram, nil},
		{"good FINGERPRINT", withFP(MagicCookie, same, 4), IsDatagram, nil},
		{"bad FINGERPRINT", withFP(MagicCookie, flip, 4), IsDatagram, ErrInvalidMessage},
		{"bad FINGERPRINT, NoFingerprintCheck", withFP(MagicCookie, flip, 4), IsDatagram | NoFingerprintCheck, nil},
		{"FINGERPRINT of length 8", withFP(MagicCookie, same, 8), IsDatagram, ErrInvalidMessage},
		{"RFC 3489, bad FINGERPRINT not checked", withFP(rfc3489Magic, flip, 4), IsDatagram, nil},
		{"RTP", rtp, IsDatagram, ErrInvalidMessage},
		{"first byte 0x02", append([]byte{0x02}, bare[1:]...), IsDatagram, ErrInvalidMessage},
		{"short datagram", bare[:19], IsDatagram, ErrInvalidMessage},
		{"short stream", bare[:19], 0, ErrIncomplete},
		{"length over the datagram", withFP(MagicCookie, same, 4)[:24], IsDatagram, ErrInvalidMessage},
		{"length over the stream so far", withFP(MagicCookie, same, 4)[:24], 0, ErrIncomplete},
		{"stream with more", append(withFP(MagicCookie, same, 4), 0, 1), 0, nil},
		{"datagram with more", append(withFP(MagicCookie, same, 4), 0, 1), IsDatagram, ErrInvalidMessage},
		{"length not a multiple of 4", append([]byte{0, 1, 0, 2}, append(bare[4:], 0, 0)...), IsDatagram, ErrInvalidMessage},
	} {
		err := MsgCheck(tc.pkt, tc.opts)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	good := withFP(MagicCookie, same, 4)
	if n := testing.AllocsPerRun(100, func() { MsgCheck(good, IsDatagram) }); n != 0 {
		t.Errorf("MsgCheck allocates %v", n)
	}
}
