package mediaport_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/mediaport/mediaport"
	"github.com/mediaport/mediaport/association"
	"github.com/mediaport/mediaport/dispatcher"
	"github.com/mediaport/mediaport/dtlsrx"
	"github.com/mediaport/mediaport/dtlstx"
	"github.com/mediaport/mediaport/event"
	"github.com/mediaport/mediaport/srtp"
	"github.com/mediaport/mediaport/stun"
	"github.com/mediaport/mediaport/turn"
	"github.com/mediaport/mediaport/vmprx"
)

// handles are the handle types of every public package: pointers to the
// types users get from Create, Bind, OpenModule and friends.
var handles = []any{
	(*mediaport.Module)(nil),
	(*dispatcher.Dispatcher)(nil),
	(*vmprx.VMPRx)(nil),
	(*dtlsrx.DTLSRx)(nil),
	(*dtlstx.DTLSTx)(nil),
	(*turn.Allocation)(nil),
	(*stun.Session)(nil),
	(*stun.ICELite)(nil),
	(*stun.TxData)(nil),
	(*stun.UDPTransport)(nil),
	(*association.Association)(nil),
	(*association.Sock)(nil),
	(*srtp.Session)(nil),
	(*event.Event)(nil),
	(*event.Queue)(nil),
	(*event.Source)(nil),
}

// linkPlumbing are the association's methods for its DTLS[rx] and
// DTLS[tx] (to be unexported), which a nil association never reaches.
var linkPlumbing = map[string]bool{"Deliver": true, "Flush": true, "Write": true, "Ready": true}

// nilHandleErrs are what a method on a nil or zero handle may return.
var nilHandleErrs = []error{mediaport.ErrNilHandle, mediaport.ErrNilModule, event.ErrNilEvent}

// TestNilAndZeroHandles calls every exported method of every handle type,
// with zero arguments, on a nil pointer and on a pointer to a zero value:
// none may panic; a method returning an error returns one matching
// ErrNilHandle (ErrNilModule for a Module, ErrNilEvent for an event);
// other results are zero.
func TestNilAndZeroHandles(t *testing.T) {
	for _, h := range handles {
		pt := reflect.TypeOf(h)
		for _, recv := range []struct {
			name string
			v    reflect.Value
		}{{"nil", reflect.Zero(pt)}, {"zero", reflect.New(pt.Elem())}} {
			for i := range pt.NumMethod() {
				m := pt.Method(i)
				if pt == reflect.TypeFor[*association.Association]() && linkPlumbing[m.Name] {
					continue
				}
				name := fmt.Sprintf("(%s %v).%s", recv.name, pt, m.Name)
				checkCall(t, name, recv.v.Method(i), m.Type)
			}
		}
	}
}

func checkCall(t *testing.T, name string, fn reflect.Value, mt reflect.Type) {
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
	var out []reflect.Value
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("%s panicked: %v", name, r)
			}
		}()
		out = fn.Call(args)
	}()
	errType := reflect.TypeFor[error]()
	hasErr := false
	for _, o := range out {
		if o.Type() == errType {
			hasErr = true
			err, _ := o.Interface().(error)
			if !matchesAny(err, nilHandleErrs) {
				t.Errorf("%s returned error %v, want ErrNilHandle", name, err)
			}
		}
	}
	if hasErr {
		return
	}
	for _, o := range out {
		if !o.IsZero() && !isHarmless(o) {
			t.Errorf("%s returned %v, want the zero value", name, o)
		}
	}
}

func matchesAny(err error, targets []error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// isHarmless accepts the non-zero results that make sense on a nil
// handle: a discarding logger, the system clock, a closed channel.
func isHarmless(v reflect.Value) bool {
	s := v.Type().String()
	return strings.Contains(s, "slog.Logger") || strings.Contains(s, "Clock") || v.Kind() == reflect.Chan
}

// enums are the enumerations with a String method of every public package.
var enums = []any{
	mediaport.CredType(0),
	dispatcher.Status(0), vmprx.Status(0), vmprx.Class(0), dtlsrx.Status(0), dtlstx.Status(0),
	turn.Status(0), turn.Compatibility(0), turn.RequestPorts(0), turn.Return(0),
	association.State(0), association.Role(0), association.SRTPProfile(0),
}

// TestEnumStringOutOfRange: String of any value of an enumeration, in range
// or not, returns a non-empty string without panicking.
func TestEnumStringOutOfRange(t *testing.T) {
	for _, e := range enums {
		typ := reflect.TypeOf(e)
		str, ok := typ.MethodByName("String")
		if !ok {
			t.Errorf("%v has no String method", typ)
			continue
		}
		var values []reflect.Value
		for _, x := range []int64{-1, 0, 1, 2, 3, 7, 100, 1 << 14, -1 << 31} {
			v := reflect.New(typ).Elem()
			switch typ.Kind() {
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
				v.SetInt(x)
			default:
				v.SetUint(uint64(x) & (1<<(8*typ.Size()) - 1))
			}
			values = append(values, v)
		}
		for _, v := range values {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%v(%v).String panicked: %v", typ, v, r)
					}
				}()
				if s := str.Func.Call([]reflect.Value{v})[0].String(); s == "" {
					t.Errorf("%v(%v).String is empty", typ, v)
				}
			}()
		}
	}
}
