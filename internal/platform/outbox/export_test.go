package outbox

import "time"

// SetSettleWait and SetBatch tune a relay for tests: how long a Flush waits
// for running transactions, and how many events it claims at once.
func SetSettleWait(r *Relay, d time.Duration) { r.settleWait = d }
func SetBatch(r *Relay, n int)                { r.batch = n }
