package stun

// wipeCredLocked zeroes the session's copy of its password and forgets
// the credential. Requests in flight keep copies of their keys
// (clientCred), so their responses are still checked.
func (s *Session) wipeCredLocked() {
	if s.cred != nil {
		clear(s.cred.Password)
		s.cred = nil
	}
}
