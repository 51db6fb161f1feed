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
