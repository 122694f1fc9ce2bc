package payment

// RememberedKeys returns how many idempotency keys the sandbox holds.
func (s *Sandbox) RememberedKeys() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}
