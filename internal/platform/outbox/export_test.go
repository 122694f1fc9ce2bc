package outbox

import "time"

// SetSettleWait, SetBatch and SetWorkers tune a relay for tests: how long a
// Flush waits for running transactions, how many events it claims at once,
// and how many rounds Run keeps going side by side.
func SetSettleWait(r *Relay, d time.Duration) { r.settleWait = d }
func SetBatch(r *Relay, n int)                { r.batch = n }
func SetWorkers(r *Relay, n int)              { r.workers = n }
