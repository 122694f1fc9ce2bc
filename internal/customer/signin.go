package customer

import (
	"context"
	"fmt"
	"time"

	"github.com/mercato-shop/mercato/internal/apperr"
	"github.com/mercato-shop/mercato/internal/platform/ratelimit"
)

// Sign-in limits. Attempts are counted in the database (every instance
// shares the counts; a restart keeps them) under three kinds of key:
//
//   - per client address (IPv6 by /64): LoginAttemptsPerIP sign-in and
//     registration attempts per LoginAttemptWindow, then 429 until the
//     window ends;
//   - per account, for attempts from unknown sources: LoginFreeAttempts
//     attempts without a success pass at once; after that each attempt must
//     wait LoginDelayFirst after the previous one, doubling up to
//     LoginDelayMax (1, 2, 4, 8, 15, 15, ... minutes). The count is
//     forgotten LoginCountForgotten after the latest attempt, and a success
//     from an unknown source ends it;
//   - per account and known source: the same rule, counted apart. A known
//     source is a device (its mercato_device cookie, given at a successful
//     sign-in, remembered KnownDeviceTTL) or a network (a client address the
//     account signed in from, remembered KnownNetworkTTL). A known device is
//     not subject to the per-address limit either: nobody else's attempts
//     slow it down.
//
// So a stranger's wrong passwords delay only strangers, by at most
// LoginDelayMax, and guessing stays slow: from unknown sources an account
// takes LoginFreeAttempts guesses and then at most one per LoginDelayMax
// (about 100 a day).
const (
	LoginAttemptsPerIP  = 20
	LoginAttemptWindow  = time.Minute
	LoginFreeAttempts   = 5
	LoginDelayFirst     = time.Minute
	LoginDelayMax       = 15 * time.Minute
	LoginCountForgotten = 24 * time.Hour
	KnownDeviceTTL      = 365 * 24 * time.Hour
	KnownNetworkTTL     = 30 * 24 * time.Hour
)

// Rule says how many attempts a key may make and how long it waits after.
type Rule struct {
	// Free attempts pass without waiting.
	Free int
	// Delays: attempt Free+1+i must come at least Delays[i] after the
	// previous one (the last delay repeats). Without delays, the attempts
	// after Free wait until the count is forgotten.
	Delays []time.Duration
	// Forget: the count starts over this long after its first attempt (a
	// fixed window) or, when Sliding, after its latest.
	Forget  time.Duration
	Sliding bool
}

// wait returns how long an attempt at now must still wait, for a count of
// attempts whose latest was at last and which is forgotten at expires.
func (r Rule) wait(attempts int, last, expires, now time.Time) time.Duration {
	until := expires
	if attempts < r.Free || !now.Before(expires) {
		return 0
	}
	if len(r.Delays) > 0 {
		if t := last.Add(r.Delays[min(attempts-r.Free, len(r.Delays)-1)]); t.Before(until) {
			until = t
		}
	}
	return max(until.Sub(now), 0)
}

// backoff returns the delays from first, doubling, up to and including
// limit.
func backoff(first, limit time.Duration) []time.Duration {
	var ds []time.Duration
	for d := first; ; d *= 2 {
		if d >= limit {
			return append(ds, limit)
		}
		ds = append(ds, d)
	}
}

// Attempts counts attempts per key for every instance of the service at
// once. The default keeps the counts in the database
// (customer_login_limits); a shared cache (Redis, issue 15) can replace it
// with WithAttempts.
type Attempts interface {
	// Take counts one attempt for key at now when rule lets it through,
	// and returns 0; otherwise it counts nothing and returns how long the
	// key must wait (at least a second). Parallel calls for one key never
	// let more attempts through than the rule allows.
	Take(ctx context.Context, key string, rule Rule, now time.Time) (time.Duration, error)
	// Reset forgets key's count (a success ends a run of failures).
	Reset(ctx context.Context, key string) error
}

// WithAttempts replaces the database as the keeper of sign-in attempt
// counts (for tests, or a shared cache).
func WithAttempts(a Attempts) Option { return func(s *Service) { s.attempts = a } }

// source is where a sign-in attempt comes from, as far as the limits go.
type source struct {
	device string // the known-device secret's hash, when the device is known to the account
	net    string // the client address's key (ipKey), when known to the account
	ip     string // the client address's key, known or not ("" when unknown)
}

// counter returns the key of the per-account count the attempt falls under.
func (src source) counter(email string) string {
	switch {
	case src.device != "":
		return "account " + email + " device " + src.device
	case src.net != "":
		return "account " + email + " net " + src.net
	}
	return "account " + email
}

// sourceOf finds out whether the attempt's device (DeviceFrom) or address
// (ClientIPFrom) is one the account with this e-mail has signed in from.
// It runs the same query whether or not the account exists.
func (s *Service) sourceOf(ctx context.Context, email string, now time.Time) (source, error) {
	var (
		src        source
		candidates []string
		device     string
	)
	if d := DeviceFrom(ctx); validDevice(d) {
		device = hashToken(d)
		candidates = append(candidates, "device:"+device)
	}
	if ip := ClientIPFrom(ctx); ip != "" {
		src.ip = ipKey(ip)
		candidates = append(candidates, netSource(src.ip))
	}
	known, err := s.store.knownSources(ctx, email, candidates, now)
	if err != nil {
		return source{}, err
	}
	switch {
	case device != "" && known["device:"+device]:
		src.device = device
	case src.ip != "" && known[netSource(src.ip)]:
		src.net = src.ip
	}
	return src, nil
}

func netSource(ipKey string) string { return "net:" + limitKey(ipKey) }

// takeAttempt counts a sign-in attempt from src for the account with this
// e-mail, or refuses it with TooManyRequest. The message is the same for
// every account, existing or not.
func (s *Service) takeAttempt(ctx context.Context, email string, src source, now time.Time) error {
	if src.device == "" && src.ip != "" {
		wait, err := s.attempts.Take(ctx, "ip "+src.ip, s.perAddress, now)
		if err != nil {
			return err
		}
		if wait > 0 {
			return ratelimit.Exceeded("too many sign-in attempts from your network; try again in "+aboutDuration(wait), wait)
		}
	}
	wait, err := s.attempts.Take(ctx, src.counter(email), s.perAccount, now)
	if err != nil {
		return err
	}
	if wait > 0 {
		return ratelimit.Exceeded("too many failed sign-ins for this account; try again in "+aboutDuration(wait)+
			", or sign in on a device you have signed in with before", wait)
	}
	return nil
}

// aboutDuration says a wait in words, rounded up as Retry-After is: "30
// seconds", "1 minute", "15 minutes".
func aboutDuration(d time.Duration) string {
	secs := int(max((d+time.Second-1)/time.Second, 1))
	if secs < 60 {
		return fmt.Sprintf("%d seconds", secs)
	}
	if m := (secs + 59) / 60; m > 1 {
		return fmt.Sprintf("%d minutes", m)
	}
	return "1 minute"
}

// PurgeLoginRecords deletes the sign-in counts and known sources that are
// forgotten (a periodic job runs it on every instance; it is safe beside
// itself) and returns how many rows went. A count past its time is already
// ignored before it is purged.
func (s *Service) PurgeLoginRecords(ctx context.Context) (int64, error) {
	return s.store.purge(ctx, s.now())
}

// reauthLimited refuses a password check of a signed-in session that has
// failed too often.
func reauthLimited(wait time.Duration) *apperr.Error {
	return ratelimit.Exceeded("too many wrong passwords; try again in "+aboutDuration(wait), wait)
}
