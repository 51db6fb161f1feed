package mediaport_test

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/dispatcher"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/turn"
	"github.com/mediaport/mediaport/vmprx"
)

// TestLiveHandlesZeroArgs calls every exported method of live endpoints
// (created, configured, stopped, destroyed) with zero arguments: nil
// buffers, nil contexts, zero addresses. None may panic; after Destroy
// every method with an error returns one matching ErrDestroyed.
func TestLiveHandlesZeroArgs(t *testing.T) {
	mod, err := mediaport.OpenModule(mediaport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	d, err := dispatcher.Create(mod, dispatcher.Config{Destination: netip.MustParseAddrPort("127.0.0.1:9")})
	must(err)
	v, err := vmprx.Create(mod)
	must(err)
	vc, err := vmprx.Create(mod)
	must(err)
	must(vc.Config(vmprx.Config{Local: netip.MustParseAddr("127.0.0.1"), RTCPMux: true}))
	rx, err := dtlsrx.Create(mod)
	must(err)
	tx, err := dtlstx.Create(mod)
	must(err)
	txc, err := dtlstx.Create(mod)
	must(err)
	must(txc.Config(dtlstx.Config{Destination: netip.MustParseAddrPort("127.0.0.1:9")}))
	a, err := turn.Create(mod)
	must(err)
	handles := []any{d, v, vc, rx, tx, txc, a}
	callAll := func(stage string, wantDestroyed bool) {
		for _, h := range handles {
			rv := reflect.ValueOf(h)
			for i := range rv.Type().NumMethod() {
				m := rv.Type().Method(i)
				if m.Name == "Stop" || m.Name == "Destroy" {
					continue
				}
				name := fmt.Sprintf("%s (%v).%s", stage, rv.Type(), m.Name)
				for _, o := range callZero(t, name, rv.Method(i)) {
					if err, _ := o.Interface().(error); wantDestroyed && !errors.Is(err, mediaport.ErrDestroyed) {
						t.Errorf("%s = %v, want ErrDestroyed", name, err)
					}
				}
			}
		}
	}
	callAll("running", false)
	for _, h := range handles {
		reflect.ValueOf(h).MethodByName("Stop").Call(nil)
	}
	callAll("stopped", false)
	for _, h := range handles {
		reflect.ValueOf(h).MethodByName("Destroy").Call(nil)
	}
	callAll("destroyed", true)
}

// callZero calls fn with zero arguments and returns its error results
// (nil errors included); a panic fails the test.
func callZero(t *testing.T, name string, fn reflect.Value) (errs []reflect.Value) {
	t.Helper()
	ft := fn.Type()
	n := ft.NumIn()
	if ft.IsVariadic() {
		n--
	}
	args := make([]reflect.Value, n)
	for i := range args {
		args[i] = reflect.Zero(ft.In(i))
	}
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s panicked: %v", name, r)
		}
	}()
	for _, o := range fn.Call(args) {
		if o.Type() == reflect.TypeFor[error]() {
			errs = append(errs, o)
		}
	}
	return errs
}
