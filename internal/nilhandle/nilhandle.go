// Package nilhandle holds the error of a call on a nil or zero handle,
// below every package that returns it (mediaport re-exports it as
// ErrNilHandle; package event, which the module's core imports, wraps it).
package nilhandle

import "errors"

// Err is mediaport.ErrNilHandle.
var Err = errors.New("mediaport: nil handle")
