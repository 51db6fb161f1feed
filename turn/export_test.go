package turn

// Transactions returns how many STUN transactions a's session has in
// progress (pending, or lingering after their response), for tests that
// drive the clock and must know when the server has answered.
func Transactions(a *Allocation) int {
	a.mu.Lock()
	s := a.sess
	a.mu.Unlock()
	if s == nil {
		return 0
	}
	n, _ := s.Pending()
	return n
}
