// Command rtp-receive receives an RTP (or SRTP) stream on a VMP[rx] and
// reports it: each new SSRC, each RTCP sender report with the count it
// carries, and at the sender's BYE a summary that compares what arrived
// with what the sender says it sent. One command each side:
//
//	go run ./examples/rtp-receive -port 5004
//	ffmpeg -re -f lavfi -i testsrc=size=1280x720:rate=30:duration=5 -c:v mpeg4 -b:v 4M \
//	    -rtpflags send_bye -f rtp rtp://127.0.0.1:5004
//
// RTCP arrives on port+1, or with -mux on the RTP port (ffmpeg:
// rtp://127.0.0.1:5004?rtcpport=5004). With -srtp KEY (30 bytes in
// base64, AES_CM_128_HMAC_SHA1_80) it decrypts SRTP and SRTCP: ffmpeg
// -srtp_out_suite AES_CM_128_HMAC_SHA1_80 -srtp_out_params KEY srtp://…
// -read-buffer sets the socket receive buffer (default: vmprx's 1 MiB,
// enough for video bursts).
package main

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/srtp"
	"github.com/mediaport/mediaport/vmprx"
)

// options are the command's flags.
type options struct {
	addr       netip.Addr
	port       uint16
	mux        bool
	key        []byte // SRTP master key and salt, or nil
	readBuffer int
}

func main() {
	addr := flag.String("addr", "127.0.0.1", "address to listen on")
	port := flag.Uint("port", 5004, "RTP port (even without -mux; 0: any)")
	mux := flag.Bool("mux", false, "RTCP on the RTP port (rtcp-mux)")
	key := flag.String("srtp", "", "SRTP master key and salt, base64 (AES_CM_128_HMAC_SHA1_80)")
	rb := flag.Int("read-buffer", 0, "socket receive buffer in bytes (0: vmprx.DefaultReadBuffer, -1: the system's)")
	flag.Parse()
	o := options{mux: *mux, readBuffer: *rb, port: uint16(*port)}
	var err error
	if o.addr, err = netip.ParseAddr(*addr); err != nil {
		fail(err)
	}
	if *key != "" {
		if o.key, err = base64.StdEncoding.DecodeString(*key); err != nil || len(o.key) != 30 {
			fail(fmt.Errorf("-srtp: want 30 bytes in base64 (%d, %v)", len(o.key), err))
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := run(ctx, o, os.Stdout, nil); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "rtp-receive:", err)
	os.Exit(1)
}

// summary is what run saw of the stream that ended it.
type summary struct {
	SSRC        uint32
	Received    uint64 // RTP packets
	SRCount     uint32 // the packet count of the sender's last SR
	KernelDrops uint64
}

// run receives until a BYE (or ctx ends) and returns the summary of the
// stream that sent it. ready, if not nil, gets the RTP port once bound.
func run(ctx context.Context, o options, out io.Writer, ready chan<- netip.AddrPort) (summary, error) {
	mod, err := mediaport.OpenModule(mediaport.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return summary{}, err
	}
	defer mod.Close()
	v, err := vmprx.Create(mod)
	if err != nil {
		return summary{}, err
	}
	if err := v.Config(vmprx.Config{Local: o.addr, RTPPort: o.port, RTCPMux: o.mux, ReadBuffer: o.readBuffer}); err != nil {
		return summary{}, err
	}
	if o.key != nil {
		// The remote key is the sender's; this side sends nothing, so its
		// own key is the same (any key would do).
		s, err := srtp.New(association.SRTPKeys{Profile: association.SRTP_AES128_CM_HMAC_SHA1_80,
			RemoteKey: o.key[:16], RemoteSalt: o.key[16:], LocalKey: o.key[:16], LocalSalt: o.key[16:]})
		if err != nil {
			return summary{}, err
		}
		if err := v.ConfigSRTP(s); err != nil {
			return summary{}, err
		}
	}
	rtpAddr, rtcpAddr, _ := v.Ports()
	granted, _, _ := v.ReadBuffer()
	fmt.Fprintf(out, "listening: RTP %v, RTCP %v, receive buffer %d bytes\n", rtpAddr, rtcpAddr, granted)
	if ready != nil {
		ready <- rtpAddr
	}
	ev, _ := v.Event()
	received := map[uint32]uint64{}
	buf := make([]byte, 2048)
	var bye *summary // the stream that said BYE
	for {
		wctx, cancel := ctx, context.CancelFunc(func() {})
		if bye != nil {
			// After the BYE: its RTP may still wait on the RTP port
			// (RTCP came on its own); read until it is all in, or
			// nothing has come for a moment.
			wctx, cancel = context.WithTimeout(ctx, 250*time.Millisecond)
		}
		err := ev.Wait(wctx)
		cancel()
		if err != nil {
			if bye != nil && ctx.Err() == nil {
				return byeSummary(out, *bye, received, v), nil
			}
			return summary{}, err
		}
		st, _ := v.Status()
		switch st {
		case vmprx.NewSSRC:
			ssrc, _ := v.NewSSRC()
			fmt.Fprintf(out, "new SSRC %08x\n", ssrc)
		case vmprx.Overrun:
			fmt.Fprintln(out, "overrun: packets lost, the queue was full")
		case vmprx.Stopped:
			return summary{}, fmt.Errorf("stopped: %w", v.Err())
		case vmprx.HasPacket:
			for {
				pkt, err := v.GetPacket(buf)
				if errors.Is(err, vmprx.ErrNoPacket) {
					break
				}
				if err != nil {
					return summary{}, err
				}
				p := buf[:pkt.Len]
				if pkt.Class == vmprx.ClassRTP {
					received[binary.BigEndian.Uint32(p[8:])]++
				} else if s, ok := report(out, p, received); ok && bye == nil {
					bye = &s
				}
			}
		}
		if bye != nil {
			if st, _ := v.Stats(); received[bye.SSRC]+st.KernelDrops >= uint64(bye.SRCount) {
				return byeSummary(out, *bye, received, v), nil
			}
		}
	}
}

// byeSummary prints and returns the summary of the stream that said BYE.
func byeSummary(out io.Writer, s summary, received map[uint32]uint64, v *vmprx.VMPRx) summary {
	st, _ := v.Stats()
	s.Received, s.KernelDrops = received[s.SSRC], st.KernelDrops
	fmt.Fprintf(out, "BYE from %08x: sent %d, received %d, dropped by the kernel %d\n",
		s.SSRC, s.SRCount, s.Received, s.KernelDrops)
	return s
}

// report prints the sender reports of an RTCP compound; it returns the
// SR of a compound that ends with a BYE, and true.
func report(out io.Writer, p []byte, received map[uint32]uint64) (summary, bool) {
	var sr *summary
	for len(p) >= 4 {
		n := (int(binary.BigEndian.Uint16(p[2:])) + 1) * 4
		if n > len(p) {
			break
		}
		switch p[1] {
		case 200: // SR
			if n >= 28 {
				ssrc := binary.BigEndian.Uint32(p[4:])
				sr = &summary{SSRC: ssrc, SRCount: binary.BigEndian.Uint32(p[20:])}
				fmt.Fprintf(out, "SR from %08x: sent %d packets; received %d\n", ssrc, sr.SRCount, received[ssrc])
			}
		case 203: // BYE
			if sr != nil {
				return *sr, true
			}
		}
		p = p[n:]
	}
	return summary{}, false
}
