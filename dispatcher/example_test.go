package dispatcher_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/netip"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dispatcher"
)

// A dispatcher sends datagrams from one local port to one destination, here
// a UDP socket of the example's own on loopback.
func ExampleCreate() {
	mod, err := mediaport.OpenModule(mediaport.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer mod.Close()

	receiver, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		log.Fatal(err)
	}
	defer receiver.Close()

	d, err := dispatcher.Create(mod, dispatcher.Config{
		Destination: receiver.LocalAddr().(*net.UDPAddr).AddrPort(),
		Local:       netip.MustParseAddrPort("127.0.0.1:0"), // port 0: the system chooses
		TOS:         0xb8,                                   // EF
	})
	if err != nil {
		log.Fatal(err)
	}
	st, err := d.Status()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("status:", st)

	if err := d.Send([]byte("hello, receiver")); err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 1500)
	receiver.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, src, err := receiver.ReadFromUDP(buf)
	if err != nil {
		log.Fatal(err)
	}
	local, _ := d.LocalAddr()
	fmt.Printf("received %q from the dispatcher's port: %v\n", buf[:n], src.AddrPort() == local)

	// Stop: the final status is Stopped and the event stays signalled.
	if err := d.Stop(); err != nil {
		log.Fatal(err)
	}
	ev, _ := d.Event()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ev.Wait(ctx); err != nil {
		log.Fatal(err)
	}
	st, _ = d.Status()
	fmt.Println("status:", st, "permanent:", ev.Permanent())
	if err := d.Destroy(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// status: Running
	// received "hello, receiver" from the dispatcher's port: true
	// status: Stopped permanent: true
}
