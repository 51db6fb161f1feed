package dispatcher_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dispatcher"
	"github.com/mediaport/mediaport/internal/srtptest"
	"github.com/mediaport/mediaport/internal/testutil"
)

func rtp(ssrc uint32, seq uint16, n int) []byte {
	p := make([]byte, 12+n)
	p[0], p[1] = 0x80, 96
	binary.BigEndian.PutUint16(p[2:], seq)
	binary.BigEndian.PutUint32(p[8:], ssrc)
	for i := range n {
		p[12+i] = byte(i + int(seq))
	}
	return p
}

func rtcp(ssrc uint32) []byte {
	p := make([]byte, 8)
	p[0], p[1] = 0x80, 201
	binary.BigEndian.PutUint16(p[2:], 1)
	binary.BigEndian.PutUint32(p[4:], ssrc)
	return p
}

// TestSendSRTP: with ConfigSRTP, Send and SendBatch put SRTP and SRTCP on
// the wire that the peer's session decrypts to what was given, in order,
// across a sequence-number wrap; the caller's buffers are left alone;
// other datagrams go out as they are; Stats counts wire bytes; nil turns
// it off.
func TestSendSRTP(t *testing.T) {
	for _, profile := range []association.SRTPProfile{association.SRTP_AEAD_AES_256_GCM, association.SRTP_AES128_CM_HMAC_SHA1_32} {
		t.Run(profile.String(), func(t *testing.T) {
			mod := openModule(t)
			r := receiver(t, netip.MustParseAddr("127.0.0.1"))
			d, err := dispatcher.Create(mod, dispatcher.Config{Destination: r.LocalAddr()})
			if err != nil {
				t.Fatal(err)
			}
			tx, rx := srtptest.Pair(t, profile)
			if err := d.ConfigSRTP(tx); err != nil {
				t.Fatal(err)
			}
			var wire uint64
			check := func(plain []byte) {
				t.Helper()
				got := recv(t, r).data
				wire += uint64(len(got))
				var dec []byte
				var err error
				if plain[1] == 201 {
					dec, err = rx.DecryptRTCP(nil, got)
				} else {
					dec, err = rx.DecryptRTP(nil, got)
				}
				if err != nil || !bytes.Equal(dec, plain) {
					t.Fatalf("received %x: decrypted %x, %v; want %x", got, dec, err, plain)
				}
			}
			p := rtp(1, 65535, 100)
			orig := bytes.Clone(p)
			if err := d.Send(p); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(p, orig) {
				t.Fatal("Send changed the caller's buffer")
			}
			check(orig)
			if err := d.Send(rtcp(1)); err != nil {
				t.Fatal(err)
			}
			check(rtcp(1))
			stunish := []byte{0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
			if err := d.Send(stunish); err != nil {
				t.Fatal(err)
			}
			if got := recv(t, r).data; !bytes.Equal(got, stunish) {
				t.Fatalf("a STUN datagram went out as %x", got)
			}
			wire += uint64(len(stunish))

			var batch, origs [][]byte
			for i := range 40 { // more than one sendmmsg; the wrap is behind
				batch = append(batch, rtp(1, uint16(i), 50+i))
				if i%10 == 9 {
					batch = append(batch, rtcp(1))
				}
			}
			for _, b := range batch {
				origs = append(origs, bytes.Clone(b))
			}
			if n, err := d.SendBatch(batch); err != nil || n != len(batch) {
				t.Fatalf("SendBatch: %d of %d, %v", n, len(batch), err)
			}
			for i := range batch {
				if !bytes.Equal(batch[i], origs[i]) {
					t.Fatalf("SendBatch changed datagram %d", i)
				}
				check(origs[i])
			}
			st, _ := d.Stats()
			if st.Packets != uint64(3+len(batch)) || st.Bytes != wire {
				t.Fatalf("stats %+v, want %d packets, %d bytes", st, 3+len(batch), wire)
			}

			// A datagram that is not RTP fails, and nothing of its batch goes out.
			if err := d.Send([]byte{0x80, 0, 1}); !errors.Is(err, mediaport.ErrInvalidArgument) {
				t.Fatalf("short RTP: %v", err)
			}
			if n, err := d.SendBatch([][]byte{rtp(1, 41, 10), {0x80, 1}}); n != 0 || !errors.Is(err, mediaport.ErrInvalidArgument) {
				t.Fatalf("batch with a short RTP: %d, %v", n, err)
			}
			if err := d.ConfigSRTP(nil); err != nil {
				t.Fatal(err)
			}
			plain := rtp(1, 42, 10)
			d.Send(plain)
			if got := recv(t, r).data; !bytes.Equal(got, plain) {
				t.Fatalf("without SRTP: %x", got) // and not the short ones
			}
		})
	}
}

// TestSendSRTPConcurrent: Send and SendBatch with SRTP from several
// goroutines (under -race): every datagram arrives authentic.
func TestSendSRTPConcurrent(t *testing.T) {
	mod := openModule(t)
	r := receiver(t, netip.MustParseAddr("127.0.0.1"))
	d, _ := dispatcher.Create(mod, dispatcher.Config{Destination: r.LocalAddr()})
	tx, rx := srtptest.Pair(t, association.SRTP_AEAD_AES_128_GCM)
	d.ConfigSRTP(tx)
	const senders, each = 4, 25
	var wg sync.WaitGroup
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i += 5 {
				if g%2 == 0 {
					for k := range 5 {
						if err := d.Send(rtp(uint32(g), uint16(i+k), 20)); err != nil {
							t.Error(err)
						}
					}
					continue
				}
				b := [][]byte{rtp(uint32(g), uint16(i), 20), rtp(uint32(g), uint16(i+1), 20), rtp(uint32(g), uint16(i+2), 20),
					rtp(uint32(g), uint16(i+3), 20), rtp(uint32(g), uint16(i+4), 20)}
				if _, err := d.SendBatch(b); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	seen := map[string]bool{}
	for range senders * each {
		got := recv(t, r).data
		dec, err := rx.DecryptRTP(nil, got)
		if err != nil {
			t.Fatalf("datagram %x: %v", got, err)
		}
		seen[fmt.Sprint(binary.BigEndian.Uint32(dec[8:]), binary.BigEndian.Uint16(dec[2:]))] = true
	}
	wg.Wait()
	if len(seen) != senders*each {
		t.Fatalf("%d distinct packets of %d", len(seen), senders*each)
	}
}

// TestSendSRTPNoAllocs: protecting into the dispatcher's buffers does not
// allocate.
func TestSendSRTPNoAllocs(t *testing.T) {
	mod := openModule(t)
	r := receiver(t, netip.MustParseAddr("127.0.0.1"))
	d, _ := dispatcher.Create(mod, dispatcher.Config{Destination: r.LocalAddr()})
	tx, _ := srtptest.Pair(t, association.SRTP_AES128_CM_HMAC_SHA1_80)
	d.ConfigSRTP(tx)
	pkt := rtp(9, 0, 1200)
	pkts := [][]byte{pkt, rtcp(9), pkt, pkt}
	seq := uint16(0)
	testutil.NoAllocs(t, "Send", func() {
		seq++
		binary.BigEndian.PutUint16(pkt[2:], seq)
		if err := d.Send(pkt); err != nil {
			t.Fatal(err)
		}
	})
	testutil.NoAllocs(t, "SendBatch", func() {
		seq++
		binary.BigEndian.PutUint16(pkt[2:], seq)
		if _, err := d.SendBatch(pkts); err != nil {
			t.Fatal(err)
		}
	})
}

// TestConfigSRTPMisuse: nil and destroyed handles.
func TestConfigSRTPMisuse(t *testing.T) {
	var d *dispatcher.Dispatcher
	if err := d.ConfigSRTP(nil); !errors.Is(err, mediaport.ErrNilHandle) {
		t.Fatalf("nil: %v", err)
	}
	mod := openModule(t)
	d, _ = dispatcher.Create(mod, dispatcher.Config{Destination: netip.MustParseAddrPort("127.0.0.1:9")})
	d.Destroy()
	tx, _ := srtptest.Pair(t, association.SRTP_AES128_CM_HMAC_SHA1_80)
	if err := d.ConfigSRTP(tx); !errors.Is(err, mediaport.ErrDestroyed) {
		t.Fatalf("destroyed: %v", err)
	}
}
