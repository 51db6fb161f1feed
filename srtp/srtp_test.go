package srtp_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/srtp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sessions returns the client's and the server's Session for profile,
// keyed from a real handshake.
func sessions(t testing.TB, profile association.SRTPProfile) (cli, srv *srtp.Session) {
	t.Helper()
	ck, sk := realKeys(t, profile)
	var err error
	if cli, err = srtp.New(ck); err != nil {
		t.Fatal(err)
	}
	if srv, err = srtp.New(sk); err != nil {
		t.Fatal(err)
	}
	return cli, srv
}

// TestRoundTrip: for every profile, with the keys of a real association,
// what one side encrypts the other decrypts, RTP and RTCP, both ways, in
// place and into another buffer; the protected packet carries the
// profile's tag and differs from the plaintext.
func TestRoundTrip(t *testing.T) {
	for _, profile := range profiles {
		t.Run(profile.String(), func(t *testing.T) {
			cli, srv := sessions(t, profile)
			if p, _ := cli.Profile(); p != profile {
				t.Fatalf("Profile %v", p)
			}
			for dir, pair := range [][2]*srtp.Session{{cli, srv}, {srv, cli}} {
				from, to := pair[0], pair[1]
				ssrc := uint32(0x1000 + dir)
				for seq := uint16(100); seq < 110; seq++ {
					plain := rtpPacket(ssrc, seq, 160)
					enc, err := from.EncryptRTP(nil, plain)
					if err != nil {
						t.Fatal(err)
					}
					if len(enc) != len(plain)+tagLen[profile] {
						t.Fatalf("SRTP of %d bytes for %d: want a tag of %d", len(enc), len(plain), tagLen[profile])
					}
					if !bytes.Equal(enc[:12], plain[:12]) || bytes.Equal(enc[12:len(plain)], plain[12:]) {
						t.Fatal("header changed or payload not encrypted")
					}
					var dec []byte
					if seq%2 == 0 {
						dec, err = to.DecryptRTP(enc, enc) // in place
						if err == nil && &dec[0] != &enc[0] {
							t.Fatal("in-place decryption moved the packet")
						}
					} else {
						dec, err = to.DecryptRTP(make([]byte, 0, 2048), enc)
					}
					if err != nil || !bytes.Equal(dec, plain) {
						t.Fatalf("seq %d: decrypted %x, %v", seq, dec, err)
					}
				}
				for i := range 5 {
					plain := rtcpPacket(ssrc, 32+4*i)
					buf := make([]byte, len(plain), len(plain)+srtp.Overhead)
					copy(buf, plain)
					enc, err := from.EncryptRTCP(buf, buf) // in place
					if err != nil {
						t.Fatal(err)
					}
					if len(enc) != len(plain)+4+rtcpTagLen[profile] || &enc[0] != &buf[0] {
						t.Fatalf("SRTCP of %d bytes for %d (profile tag %d), in place %v", len(enc), len(plain), rtcpTagLen[profile], &enc[0] == &buf[0])
					}
					if bytes.Equal(enc[8:len(plain)], plain[8:]) {
						t.Fatal("SRTCP payload not encrypted")
					}
					dec, err := to.DecryptRTCP(enc, enc)
					if err != nil || !bytes.Equal(dec, plain) {
						t.Fatalf("SRTCP %d: decrypted %x, %v", i, dec, err)
					}
				}
			}
		})
	}
}

// TestWrongKeys: a side cannot decrypt its own packets (local and remote
// keys differ), and sessions of two different associations do not
// understand each other.
func TestWrongKeys(t *testing.T) {
	cli, _ := sessions(t, association.SRTP_AEAD_AES_128_GCM)
	enc, err := cli.EncryptRTP(nil, rtpPacket(1, 1, 100))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.DecryptRTP(nil, enc); !errors.Is(err, srtp.ErrAuth) {
		t.Fatalf("own packet decrypted: %v", err)
	}
	other, _ := sessions(t, association.SRTP_AES128_CM_HMAC_SHA1_80)
	enc, _ = other.EncryptRTP(nil, rtpPacket(1, 1, 100))
	_, srv := sessions(t, association.SRTP_AES128_CM_HMAC_SHA1_32)
	if _, err := srv.DecryptRTP(nil, enc); !errors.Is(err, srtp.ErrAuth) {
		t.Fatalf("another association's packet: %v", err)
	}
}

// TestTamperAndReplay: every single-bit change of an SRTP or SRTCP packet
// fails authentication and leaves the state alone (the genuine packet
// decrypts afterwards); a packet accepted once is refused again as a
// replay, as is one older than the replay window, while a late packet
// within the window is accepted once.
func TestTamperAndReplay(t *testing.T) {
	for _, profile := range profiles {
		t.Run(profile.String(), func(t *testing.T) {
			cli, srv := sessions(t, profile)
			plain := rtpPacket(7, 5000, 40)
			enc, _ := cli.EncryptRTP(nil, plain)
			for bit := 0; bit < 8*len(enc); bit++ {
				bad := bytes.Clone(enc)
				bad[bit/8] ^= 1 << (bit % 8)
				if _, err := srv.DecryptRTP(bad, bad); err == nil {
					t.Fatalf("bit %d flipped: accepted", bit)
				} else if !errors.Is(err, srtp.ErrAuth) {
					// A flipped sequence number may land on an index
					// the window refuses; anything else is ErrAuth.
					if !errors.Is(err, srtp.ErrReplay) || bit/8 < 2 || bit/8 > 3 {
						t.Fatalf("bit %d flipped: %v", bit, err)
					}
				}
			}
			for _, n := range []int{0, 1, 11, 12, 12 + tagLen[profile] - 1} {
				if _, err := srv.DecryptRTP(nil, enc[:n]); !errors.Is(err, srtp.ErrAuth) {
					t.Fatalf("truncated to %d: %v", n, err)
				}
			}
			if dec, err := srv.DecryptRTP(nil, enc); err != nil || !bytes.Equal(dec, plain) {
				t.Fatalf("genuine packet after the forgeries: %v", err)
			}
			if _, err := srv.DecryptRTP(nil, enc); !errors.Is(err, srtp.ErrReplay) {
				t.Fatalf("replay: %v", err)
			}
			// Late but within the window: accepted once.
			late, _ := cli.EncryptRTP(nil, rtpPacket(7, 4990, 40))
			for seq := uint16(5001); seq <= 5000+srtp.ReplayWindow; seq++ {
				e, _ := cli.EncryptRTP(nil, rtpPacket(7, seq, 40))
				if _, err := srv.DecryptRTP(e, e); err != nil {
					t.Fatalf("seq %d: %v", seq, err)
				}
			}
			if _, err := srv.DecryptRTP(nil, late); !errors.Is(err, srtp.ErrReplay) {
				t.Fatalf("beyond the window (%d behind): %v", srtp.ReplayWindow+10, err)
			}
			late2, _ := cli.EncryptRTP(nil, rtpPacket(7, 5000+srtp.ReplayWindow-5, 40))
			_ = late2 // already accepted above: a replay
			if _, err := srv.DecryptRTP(nil, late2); !errors.Is(err, srtp.ErrReplay) {
				t.Fatalf("replay within the window: %v", err)
			}

			rplain := rtcpPacket(7, 32)
			renc, _ := cli.EncryptRTCP(nil, rplain)
			for bit := 0; bit < 8*len(renc); bit++ {
				bad := bytes.Clone(renc)
				bad[bit/8] ^= 1 << (bit % 8)
				if _, err := srv.DecryptRTCP(nil, bad); err == nil {
					t.Fatalf("SRTCP bit %d flipped: accepted", bit)
				} else if !errors.Is(err, srtp.ErrAuth) && !errors.Is(err, srtp.ErrReplay) {
					t.Fatalf("SRTCP bit %d flipped: %v", bit, err)
				}
			}
			if dec, err := srv.DecryptRTCP(nil, renc); err != nil || !bytes.Equal(dec, rplain) {
				t.Fatalf("genuine SRTCP after the forgeries: %v", err)
			}
			if _, err := srv.DecryptRTCP(nil, renc); !errors.Is(err, srtp.ErrReplay) {
				t.Fatalf("SRTCP replay: %v", err)
			}
		})
	}
}

// TestRolloverCounter: sequence numbers that wrap past 65535 (three
// times) still decrypt: both sides advance the rollover counter (RFC 3711
// §3.3.1), which enters the IV and, for HMAC profiles, the tag. Reordering
// across a wrap is followed too.
func TestRolloverCounter(t *testing.T) {
	for _, profile := range profiles {
		t.Run(profile.String(), func(t *testing.T) {
			cli, srv := sessions(t, profile)
			seq := uint16(65000)
			for i := 0; i < 3*65536+100; i += 97 {
				s := seq + uint16(i)
				plain := rtpPacket(9, s, 20)
				enc, err := cli.EncryptRTP(nil, plain)
				if err != nil {
					t.Fatal(err)
				}
				dec, err := srv.DecryptRTP(enc, enc)
				if err != nil || !bytes.Equal(dec, plain) {
					t.Fatalf("packet %d (seq %d): %v", i, s, err)
				}
			}
			// Reordered around a wrap: 65534, 1, 65535, 0, 2.
			cli2, srv2 := freshPair(t, profile)
			order := []uint16{65534, 1, 65535, 0, 2}
			encs := map[uint16][]byte{}
			for _, s := range []uint16{65534, 65535, 0, 1, 2} {
				encs[s], _ = cli2.EncryptRTP(nil, rtpPacket(3, s, 20))
			}
			for _, s := range order {
				if dec, err := srv2.DecryptRTP(nil, encs[s]); err != nil || !bytes.Equal(dec, rtpPacket(3, s, 20)) {
					t.Fatalf("reordered seq %d: %v", s, err)
				}
			}
		})
	}
}

// freshPair builds new sessions (fresh state) from the cached keys.
func freshPair(t testing.TB, profile association.SRTPProfile) (*srtp.Session, *srtp.Session) {
	return sessions(t, profile)
}

// TestNew: keys must match a known profile.
func TestNew(t *testing.T) {
	ck, _ := realKeys(t, association.SRTP_AEAD_AES_128_GCM)
	for name, mut := range map[string]func(k *association.SRTPKeys){
		"no profile":      func(k *association.SRTPKeys) { k.Profile = 0 },
		"unknown profile": func(k *association.SRTPKeys) { k.Profile = 0x99 },
		"short key":       func(k *association.SRTPKeys) { k.LocalKey = k.LocalKey[:15] },
		"long salt":       func(k *association.SRTPKeys) { k.RemoteSalt = make([]byte, 14) },
		"256 key for 128": func(k *association.SRTPKeys) { k.Profile = association.SRTP_AEAD_AES_256_GCM },
		"zero keys":       func(k *association.SRTPKeys) { *k = association.SRTPKeys{} },
	} {
		k := ck
		mut(&k)
		if _, err := srtp.New(k); !errors.Is(err, mediaport.ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		}
	}
	var s *srtp.Session
	for name, f := range map[string]func() error{
		"EncryptRTP":  func() error { _, err := s.EncryptRTP(nil, nil); return err },
		"EncryptRTCP": func() error { _, err := s.EncryptRTCP(nil, nil); return err },
		"DecryptRTP":  func() error { _, err := s.DecryptRTP(nil, nil); return err },
		"DecryptRTCP": func() error { _, err := s.DecryptRTCP(nil, nil); return err },
		"Profile":     func() error { _, err := s.Profile(); return err },
	} {
		if err := f(); !errors.Is(err, mediaport.ErrNilHandle) {
			t.Errorf("nil %s: %v", name, err)
		}
	}
	cli, _ := srtp.New(ck)
	for _, bad := range [][]byte{nil, {0x80}, make([]byte, 11)} {
		if _, err := cli.EncryptRTP(nil, bad); err == nil {
			t.Errorf("EncryptRTP(%x) succeeded", bad)
		}
		if _, err := cli.EncryptRTCP(nil, bad[:min(len(bad), 7)]); err == nil {
			t.Errorf("EncryptRTCP(%x) succeeded", bad)
		}
	}
}

// TestNoAllocs: encryption and decryption in place allocate nothing.
func TestNoAllocs(t *testing.T) {
	for _, profile := range profiles {
		cli, srv := sessions(t, profile)
		buf := make([]byte, 0, 1500)
		plain := rtpPacket(5, 0, 1000)
		seq := uint16(0)
		testutil.NoAllocs(t, profile.String()+" RTP", func() {
			seq++
			p := append(buf[:0], plain...)
			binary.BigEndian.PutUint16(p[2:], seq)
			enc, err := cli.EncryptRTP(p, p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := srv.DecryptRTP(enc, enc); err != nil {
				t.Fatal(err)
			}
		})
		// As browsers send it: a one-byte header extension (RFC 8285)
		// with two elements, and a CSRC.
		ext := append([]byte{0x91, 111, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 9,
			0xbe, 0xde, 0, 2, 0x10, 0xff, 0x22, 1, 2, 3, 0, 0}, make([]byte, 160)...)
		testutil.NoAllocs(t, profile.String()+" RTP with extensions and a CSRC", func() {
			seq++
			p := append(buf[:0], ext...)
			binary.BigEndian.PutUint16(p[2:], seq)
			enc, err := cli.EncryptRTP(p, p)
			if err != nil {
				t.Fatal(err)
			}
			dec, err := srv.DecryptRTP(enc, enc)
			if err != nil || len(dec) != len(ext) || !bytes.Equal(dec[16:28], ext[16:28]) {
				t.Fatalf("decrypted %x, %v", dec, err)
			}
		})
		rtcp := rtcpPacket(5, 64)
		testutil.NoAllocs(t, profile.String()+" RTCP", func() {
			p := append(buf[:0], rtcp...)
			enc, err := cli.EncryptRTCP(p, p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := srv.DecryptRTCP(enc, enc); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestConcurrent: one goroutine decrypts RTP, another SRTCP, while two
// encrypt on the same session (under -race).
func TestConcurrent(t *testing.T) {
	cli, srv := sessions(t, association.SRTP_AEAD_AES_128_GCM)
	const n = 500
	rtpc, rtcpc := make(chan []byte, n), make(chan []byte, n)
	var wg sync.WaitGroup
	wg.Add(4)
	go func() {
		defer wg.Done()
		for i := range n {
			e, err := cli.EncryptRTP(nil, rtpPacket(1, uint16(i), 100))
			if err != nil {
				t.Error(err)
			}
			rtpc <- e
		}
		close(rtpc)
	}()
	go func() {
		defer wg.Done()
		for range n {
			e, err := cli.EncryptRTCP(nil, rtcpPacket(1, 16))
			if err != nil {
				t.Error(err)
			}
			rtcpc <- e
		}
		close(rtcpc)
	}()
	var okRTP, okRTCP int
	go func() {
		defer wg.Done()
		for e := range rtpc {
			if _, err := srv.DecryptRTP(e, e); err == nil {
				okRTP++
			}
			srv.EncryptRTP(nil, rtpPacket(2, uint16(okRTP), 10))
		}
	}()
	go func() {
		defer wg.Done()
		for e := range rtcpc {
			if _, err := srv.DecryptRTCP(e, e); err == nil {
				okRTCP++
			}
		}
	}()
	wg.Wait()
	if okRTP != n || okRTCP != n {
		t.Fatalf("decrypted %d RTP, %d RTCP of %d", okRTP, okRTCP, n)
	}
}
