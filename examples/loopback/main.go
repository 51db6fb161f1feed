// Command loopback is mediaport's main job on one machine, with no outside
// setup: it opens a module, creates a UDP dispatcher with a TOS byte, sends
// datagrams (one by one and in a batch) to a receiver on loopback, and prints
// what arrived with the TOS the receiver saw. It exits non-zero if anything
// is lost or different.
//
//	go run ./examples/loopback [-n 5] [-tos 0xb8] [-6] [-v]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dispatcher"
)

func main() {
	n := flag.Int("n", 5, "datagrams to send one by one, and again as one batch")
	tos := flag.Int("tos", 0xb8, "TOS byte (IPv4) or traffic class (IPv6), 0..255")
	v6 := flag.Bool("6", false, "use IPv6 loopback (::1)")
	verbose := flag.Bool("v", false, "debug logging")
	flag.Parse()
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := run(log, *n, *tos, *v6); err != nil {
		fmt.Fprintln(os.Stderr, "loopback:", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger, n, tos int, v6 bool) error {
	loop := netip.MustParseAddr("127.0.0.1")
	if v6 {
		loop = netip.IPv6Loopback()
	}
	// The receiver: a plain socket that reports the TOS of each datagram.
	rx, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loop, 0)))
	if err != nil {
		return err
	}
	defer rx.Close()
	if err := enableRecvTOS(rx, v6); err != nil {
		return err
	}
	rxAddr := rx.LocalAddr().(*net.UDPAddr).AddrPort()

	mod, err := mediaport.OpenModule(mediaport.Options{Logger: log})
	if err != nil {
		return err
	}
	defer mod.Close()

	d, err := dispatcher.Create(mod, dispatcher.Config{
		Destination: rxAddr,
		Local:       netip.AddrPortFrom(loop, 0), // port 0: the system picks one
		TOS:         tos,
	})
	if err != nil {
		return err
	}
	local, _ := d.LocalAddr()
	fmt.Printf("dispatcher %v -> %v, TOS %#02x\n", local, rxAddr, tos)

	var sent [][]byte
	for i := 0; i < n; i++ {
		p := []byte(fmt.Sprintf("single %d from mediaport", i))
		if err := d.Send(p); err != nil {
			return err
		}
		sent = append(sent, p)
	}
	var batch [][]byte
	for i := 0; i < n; i++ {
		batch = append(batch, []byte(fmt.Sprintf("batch  %d from mediaport", i)))
	}
	if k, err := d.SendBatch(batch); err != nil || k != len(batch) {
		return fmt.Errorf("SendBatch sent %d of %d: %v", k, len(batch), err)
	}
	sent = append(sent, batch...)

	buf := make([]byte, 2048)
	for i, want := range sent {
		rx.SetReadDeadline(time.Now().Add(2 * time.Second))
		k, src, gotTOS, err := readTOS(rx, buf)
		if err != nil {
			return fmt.Errorf("datagram %d of %d: %w", i+1, len(sent), err)
		}
		fmt.Printf("received %2d bytes from %v TOS %#02x: %q\n", k, src, gotTOS, buf[:k])
		if !bytes.Equal(buf[:k], want) || src != local || gotTOS != tos {
			return fmt.Errorf("datagram %d differs: want %q from %v with TOS %#02x", i+1, want, local, tos)
		}
	}

	// The handle-and-event model: stop, wait for the event, read the
	// final status, destroy.
	ev, _ := d.Event()
	if err := d.Stop(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := ev.Wait(ctx); err != nil {
		return err
	}
	st, _ := d.Status()
	stats, _ := d.Stats()
	fmt.Printf("dispatcher status %v after Stop; sent %d datagrams, %d bytes; all %d arrived intact\n", st, stats.Packets, stats.Bytes, len(sent))
	return d.Destroy()
}
