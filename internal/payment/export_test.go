package payment

import "time"

// RememberedKeys returns how many idempotency keys the sandbox holds.
func (s *Sandbox) RememberedKeys() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// SetClock makes the service read time from now (for tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }
