package stun_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/netip"
	"time"

	pionstun "github.com/pion/stun/v3"

	"github.com/mediaport/mediaport/stun"
)

// An ICE-lite agent answers a browser's checks; the application learns
// from its event and Status that the browser nominated a pair, sends media
// to Selected().Remote while it has consent, and stops on
// ICEConsentExpired. (On a media port: OnSendMsg v.SendSTUN and
// v.AttachSTUN(lite.Session()), which also binds the port's DTLS to the
// agent.)
func ExampleICELite_Status() {
	tr, err := stun.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()
	lite, err := stun.NewICELite(stun.ICELiteConfig{LocalUfrag: "srvu", LocalPassword: "server-password-0123456789",
		OnSendMsg: tr.Send})
	if err != nil {
		log.Fatal(err)
	}
	defer lite.Close()
	tr.Serve(lite.Session())
	ev, _ := lite.Event()

	// The browser: a check with USE-CANDIDATE, as a controlling agent.
	browser, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		log.Fatal(err)
	}
	defer browser.Close()
	check := pionstun.MustBuild(pionstun.TransactionID, pionstun.BindingRequest, pionstun.NewUsername("srvu:brow"),
		pionstun.RawAttribute{Type: pionstun.AttrICEControlling, Value: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
		pionstun.RawAttribute{Type: pionstun.AttrUseCandidate},
		pionstun.NewShortTermIntegrity("server-password-0123456789"), pionstun.Fingerprint)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		st, _ := lite.Status()
		if st == stun.ICENominated {
			sel, _, _ := lite.Selected()
			fmt.Println(st, sel.Remote == browser.LocalAddr().(*net.UDPAddr).AddrPort(), lite.HasConsent(sel.Remote))
			return
		}
		browser.WriteTo(check.Raw, net.UDPAddrFromAddrPort(tr.LocalAddr())) // again, as a browser would
		wait, stop := context.WithTimeout(ctx, 200*time.Millisecond)
		ev.Wait(wait)
		stop()
		if ctx.Err() != nil {
			fmt.Println("no nomination:", st)
			return
		}
	}
	// Output: Nominated true true
}

// One ICE-lite port serving two browsers, each given its own local ufrag
// and password in its signalling (an SFU's single-port mode): each check
// is answered with the set its USERNAME names, each browser's address
// gets consent, and the agent's own selection is untouched.
func ExampleICELite_AddPeer() {
	tr, err := stun.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()
	lite, err := stun.NewICELite(stun.ICELiteConfig{LocalUfrag: "srvu", LocalPassword: "server-password-0123456789",
		OnSendMsg: tr.Send})
	if err != nil {
		log.Fatal(err)
	}
	defer lite.Close()
	tr.Serve(lite.Session())
	peers := map[string]string{"alic": "alice-password-0123456789", "bobb": "bob-password-0123456789"}
	for ufrag, pw := range peers {
		if err := lite.AddPeer(ufrag, pw); err != nil {
			log.Fatal(err)
		}
	}
	for _, ufrag := range []string{"alic", "bobb"} {
		browser, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			log.Fatal(err)
		}
		defer browser.Close()
		check := pionstun.MustBuild(pionstun.TransactionID, pionstun.BindingRequest, pionstun.NewUsername(ufrag+":brow"),
			pionstun.RawAttribute{Type: pionstun.AttrICEControlling, Value: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
			pionstun.RawAttribute{Type: pionstun.AttrUseCandidate},
			pionstun.NewShortTermIntegrity(peers[ufrag]), pionstun.Fingerprint)
		buf := make([]byte, 1500)
		for range 50 { // again until answered, as a browser would
			browser.WriteTo(check.Raw, net.UDPAddrFromAddrPort(tr.LocalAddr()))
			browser.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			n, err := browser.Read(buf)
			if err != nil {
				continue
			}
			res := &pionstun.Message{Raw: buf[:n]}
			if res.Decode() == nil && pionstun.NewShortTermIntegrity(peers[ufrag]).Check(res) == nil {
				fmt.Println(ufrag, res.Type, lite.HasConsent(browser.LocalAddr().(*net.UDPAddr).AddrPort()))
				break
			}
		}
	}
	st, _ := lite.Status()
	fmt.Println(st)
	// Output:
	// alic Binding success response true
	// bobb Binding success response true
	// Checking
}
