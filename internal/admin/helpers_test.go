package admin_test

import (
	"time"

	"github.com/mercato-shop/mercato/internal/notify"
)

var notifyFirst = notify.PageQuery{Limit: 1}

func sleep() { time.Sleep(20 * time.Millisecond) }
