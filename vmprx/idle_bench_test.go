package vmprx_test

import (
	"errors"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/internal/benchpair"
	"github.com/mediaport/mediaport/internal/testutil"
	"github.com/mediaport/mediaport/vmprx"
)

// idlePorts is how many ports BenchmarkIdlePorts keeps idle per side.
const idlePorts = 10000

// BenchmarkIdlePorts: what an idle, configured VMP[rx] costs — 10,000 of
// them with rtcp-mux, nothing flowing, in the default mode (a receive
// goroutine per port) — against 10,000 net.UDPConn each with one
// goroutine blocked in ReadFromUDP with a 1500-byte buffer. B/port is the
// growth of HeapInuse + StackInuse per port (after two GCs, with the
// goroutines parked), heap-B/port and stack-B/port its parts,
// goroutines/port the goroutines each adds. The two sides run one after
// the other in one process (benchpair.Run).
func BenchmarkIdlePorts(b *testing.B) {
	raiseNoFile(b, idlePorts+1024) // one side at a time
	benchpair.Run(b, func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			mod, err := mediaport.OpenModule(mediaport.Options{})
			if err != nil {
				b.Fatal(err)
			}
			measureIdle(b, func() {
				for range idlePorts {
					v, err := vmprx.Create(mod)
					if err != nil {
						b.Fatal(err)
					}
					if err := v.Config(vmprx.Config{Local: lo4, RTCPMux: true}); err != nil {
						b.Fatal(err)
					}
				}
			})
			mod.Close()
		}
	}, func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var conns []*net.UDPConn
			var wg sync.WaitGroup
			measureIdle(b, func() {
				for range idlePorts {
					c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
					if err != nil {
						b.Fatal(err)
					}
					conns = append(conns, c)
					wg.Add(1)
					go func() {
						defer wg.Done()
						buf := make([]byte, 1500)
						for {
							if _, _, err := c.ReadFromUDP(buf); errors.Is(err, net.ErrClosed) {
								return
							}
						}
					}()
				}
			})
			for _, c := range conns {
				c.Close()
			}
			wg.Wait()
		}
	})
}

// measureIdle reports what create adds, per idlePorts, once its
// goroutines have parked.
func measureIdle(b *testing.B, create func()) {
	// The runtime keeps the descriptors of goroutines that ended and
	// reuses them: start and end as many as the side will start, so that
	// neither side pays for them on the heap while the other reuses them.
	testutil.SpareGoroutines(idlePorts + 100)
	runtime.GC()
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	g0 := runtime.NumGoroutine()
	create()
	time.Sleep(200 * time.Millisecond) // let the goroutines park
	runtime.GC()
	runtime.GC() // and empty the pools' victim caches
	runtime.ReadMemStats(&m1)
	heap := float64(int64(m1.HeapInuse)-int64(m0.HeapInuse)) / idlePorts
	stack := float64(int64(m1.StackInuse)-int64(m0.StackInuse)) / idlePorts
	b.ReportMetric(heap+stack, "B/port")
	b.ReportMetric(heap, "heap-B/port")
	b.ReportMetric(stack, "stack-B/port")
	b.ReportMetric(float64(runtime.NumGoroutine()-g0)/idlePorts, "goroutines/port")
}
