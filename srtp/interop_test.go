package srtp_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"testing"

	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/srtp"
)

// libsrtpScript protects and unprotects with libsrtp 2 (pylibsrtp, which
// aiortc uses): the packets we give it to protect (the client's side,
// outbound) and the ones we protected (the server's side, inbound).
const libsrtpScript = `
import json, sys
from pylibsrtp import Policy, Session
req = json.load(sys.stdin)
prof = getattr(Policy, req["profile"])
def session(key, direction):
    return Session(policy=Policy(key=bytes.fromhex(key), ssrc_type=direction, srtp_profile=prof))
tx = session(req["tx_key"], Policy.SSRC_ANY_OUTBOUND)
rx = session(req["rx_key"], Policy.SSRC_ANY_INBOUND)
out = {
    "rtp": [tx.protect(bytes.fromhex(p)).hex() for p in req["rtp"]],
    "rtcp": [tx.protect_rtcp(bytes.fromhex(p)).hex() for p in req["rtcp"]],
    "srtp": [rx.unprotect(bytes.fromhex(p)).hex() for p in req["srtp"]],
    "srtcp": [rx.unprotect_rtcp(bytes.fromhex(p)).hex() for p in req["srtcp"]],
}
try:
    rx.unprotect(bytes.fromhex(req["srtp"][-1]))
    out["replay"] = "accepted"
except Exception as e:
    out["replay"] = str(e)
json.dump(out, sys.stdout)
`

var libsrtpProfiles = map[association.SRTPProfile]string{
	association.SRTP_AES128_CM_HMAC_SHA1_80: "SRTP_PROFILE_AES128_CM_SHA1_80",
	association.SRTP_AES128_CM_HMAC_SHA1_32: "SRTP_PROFILE_AES128_CM_SHA1_32",
	association.SRTP_AEAD_AES_128_GCM:       "SRTP_PROFILE_AEAD_AES_128_GCM",
	association.SRTP_AEAD_AES_256_GCM:       "SRTP_PROFILE_AEAD_AES_256_GCM",
}

// TestInteropLibsrtp: with the keys of a real association, libsrtp
// (through pylibsrtp) plays the client and mediaport the server: what
// libsrtp protects, RTP across a sequence-number wrap and RTCP, the
// Session decrypts, and what the Session protects libsrtp accepts, and
// refuses as a replay the second time.
func TestInteropLibsrtp(t *testing.T) {
	// Debian's python3, which has pylibsrtp: not another python3 earlier
	// in PATH.
	py := "/usr/bin/python3"
	if _, err := exec.LookPath(py); err != nil {
		py = testutil.Peer(t, "python3")
	}
	if err := exec.Command(py, "-c", "import pylibsrtp").Run(); err != nil {
		if testutil.RequirePeers() {
			t.Fatalf("pylibsrtp (python3-aiortc) missing and MEDIAPORT_REQUIRE_PEERS=1: %v", err)
		}
		t.Skipf("pylibsrtp (python3-aiortc) not installed: %v", err)
	}
	for _, profile := range profiles {
		t.Run(profile.String(), func(t *testing.T) {
			ck, sk := realKeys(t, profile)
			srv, err := srtp.New(sk)
			if err != nil {
				t.Fatal(err)
			}
			seqs := []uint16{65530, 65531, 65533, 65535, 0, 1, 2, 5}
			var rtpIn, rtcpIn, srtpOut, srtcpOut []string
			var plainOut [][]byte
			for i, s := range seqs {
				rtpIn = append(rtpIn, hex.EncodeToString(rtpPacket(0xcafe, s, 100+i)))
				p := rtpPacket(0xbeef, s, 200+i)
				enc, err := srv.EncryptRTP(nil, p)
				if err != nil {
					t.Fatal(err)
				}
				plainOut = append(plainOut, p)
				srtpOut = append(srtpOut, hex.EncodeToString(enc))
			}
			for i := range 3 {
				rtcpIn = append(rtcpIn, hex.EncodeToString(rtcpPacket(0xcafe, 16+4*i)))
				enc, _ := srv.EncryptRTCP(nil, rtcpPacket(0xbeef, 8+4*i))
				srtcpOut = append(srtcpOut, hex.EncodeToString(enc))
			}
			req, _ := json.Marshal(map[string]any{
				"profile": libsrtpProfiles[profile],
				"tx_key":  hex.EncodeToString(append(bytes.Clone(ck.LocalKey), ck.LocalSalt...)),
				"rx_key":  hex.EncodeToString(append(bytes.Clone(ck.RemoteKey), ck.RemoteSalt...)),
				"rtp":     rtpIn, "rtcp": rtcpIn, "srtp": srtpOut, "srtcp": srtcpOut,
			})
			cmd := exec.Command(py, "-c", libsrtpScript)
			cmd.Stdin = bytes.NewReader(req)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			raw, err := cmd.Output()
			if err != nil {
				t.Fatalf("libsrtp: %v\n%s", err, stderr.String())
			}
			var resp struct {
				RTP, RTCP, SRTP, SRTCP []string
				Replay                 string
			}
			if err := json.Unmarshal(raw, &resp); err != nil {
				t.Fatalf("%v: %s", err, raw)
			}
			for i, h := range resp.RTP {
				enc, _ := hex.DecodeString(h)
				dec, err := srv.DecryptRTP(enc, enc)
				if want, _ := hex.DecodeString(rtpIn[i]); err != nil || !bytes.Equal(dec, want) {
					t.Fatalf("libsrtp's SRTP seq %d: %v", seqs[i], err)
				}
			}
			for i, h := range resp.RTCP {
				enc, _ := hex.DecodeString(h)
				dec, err := srv.DecryptRTCP(enc, enc)
				if want, _ := hex.DecodeString(rtcpIn[i]); err != nil || !bytes.Equal(dec, want) {
					t.Fatalf("libsrtp's SRTCP %d: %v", i, err)
				}
			}
			if len(resp.SRTP) != len(seqs) || len(resp.SRTCP) != 3 {
				t.Fatalf("libsrtp unprotected %d SRTP, %d SRTCP", len(resp.SRTP), len(resp.SRTCP))
			}
			for i, h := range resp.SRTP {
				if got, _ := hex.DecodeString(h); !bytes.Equal(got, plainOut[i]) {
					t.Fatalf("libsrtp decrypted our seq %d to %x", seqs[i], got)
				}
			}
			for i, h := range resp.SRTCP {
				if got, _ := hex.DecodeString(h); !bytes.Equal(got, rtcpPacket(0xbeef, 8+4*i)) {
					t.Fatalf("libsrtp decrypted our SRTCP %d to %x", i, got)
				}
			}
			if resp.Replay == "accepted" {
				t.Fatal("libsrtp accepted a replay: the check proves nothing")
			}
		})
	}
}
