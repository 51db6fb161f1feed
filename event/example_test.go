package event_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/mediaport/mediaport/event"
)

// An endpoint keeps the Source and signals it; the application waits on the
// Event and then asks the endpoint's Status what changed.
func ExampleEvent() {
	src := event.NewSource() // the endpoint's side
	ev := src.Event()        // what the endpoint's Event method returns

	go src.Signal() // a status change, on the endpoint's goroutine

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ev.Wait(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("signalled; permanent:", ev.Permanent())

	// The final status signals it for good: every later wait returns at once.
	src.SignalPermanently()
	if err := ev.Wait(ctx); err != nil {
		log.Fatal(err)
	}
	<-ev.C()
	fmt.Println("signalled; permanent:", ev.Permanent())
	// Output:
	// signalled; permanent: false
	// signalled; permanent: true
}

// A Queue waits on many events at once, without a goroutine each: Wait
// returns the ready ones with the tag each was attached with.
func ExampleQueue() {
	rtp, dtls := event.NewSource(), event.NewSource() // two endpoints
	q := event.NewQueue()
	defer q.Close()
	if err := q.Attach(rtp.Event(), "rtp"); err != nil {
		log.Fatal(err)
	}
	if err := q.Attach(dtls.Event(), "dtls"); err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ready := make([]event.Ready, 8)

	dtls.Signal()
	n, err := q.Wait(ctx, ready)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range ready[:n] {
		fmt.Printf("%v ready (permanent %v)\n", r.Tag, r.Permanent)
	}

	// An endpoint that stopped is reported by every Wait until detached.
	rtp.SignalPermanently()
	for range 2 {
		n, err = q.Wait(ctx, ready)
		if err != nil {
			log.Fatal(err)
		}
		for _, r := range ready[:n] {
			fmt.Printf("%v ready (permanent %v)\n", r.Tag, r.Permanent)
		}
	}
	if err := q.Detach(rtp.Event()); err != nil {
		log.Fatal(err)
	}
	fmt.Println("attached:", q.Len())
	// Output:
	// dtls ready (permanent false)
	// rtp ready (permanent true)
	// rtp ready (permanent true)
	// attached: 1
}
