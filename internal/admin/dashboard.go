package admin

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mercato-shop/mercato/internal/analytics"
	"github.com/mercato-shop/mercato/internal/auth"
	"github.com/mercato-shop/mercato/internal/inventory"
	"github.com/mercato-shop/mercato/internal/money"
	"github.com/mercato-shop/mercato/internal/order"
)

type dashboardView struct {
	view
	Today        analytics.Day
	Awaiting     []order.Order
	AwaitingMore bool
	LowStock     []inventory.Level
	Chart        chart
	Days         []analytics.Day // the chart's data, newest first, for the table
}

// Dashboard serves GET /admin: today's figures, orders to fulfil, low stock
// and the last 30 days of sales.
func (a *Admin) Dashboard() http.Handler {
	return a.handle(staffOnly, func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		ctx := r.Context()
		v := dashboardView{view: a.newView(r, w, p, "Dashboard", "dashboard")}
		now := a.now()
		var err error
		if v.Today, err = a.svc.Sales.Summary(ctx, now); err != nil {
			return err
		}
		for _, st := range []string{order.StatusPaid, order.StatusPartiallyFulfilled} {
			page, err := a.svc.Orders.List(ctx, order.ListQuery{Status: st, Limit: 10})
			if err != nil {
				return err
			}
			v.Awaiting = append(v.Awaiting, page.Items...)
			v.AwaitingMore = v.AwaitingMore || page.NextCursor != nil
		}
		// Oldest first: they have waited longest.
		slices.SortFunc(v.Awaiting, func(x, y order.Order) int { return x.CreatedAt.Compare(y.CreatedAt) })
		if len(v.Awaiting) > 10 {
			v.Awaiting, v.AwaitingMore = v.Awaiting[:10], true
		}
		if v.LowStock, err = a.svc.Inventory.LowStock(ctx, 10); err != nil {
			return err
		}
		sales, err := a.svc.Sales.Sales(ctx, analytics.SalesQuery{Days: 30, Until: now})
		if err != nil {
			return err
		}
		v.Chart = newChart(sales.Days)
		v.Days = slices.Clone(sales.Days)
		slices.Reverse(v.Days)
		return a.render(w, http.StatusOK, "dashboard", v)
	})
}

// chart is a bar chart of daily revenue with the order count as a line,
// laid out here so the template only places shapes (no inline styles).
type chart struct {
	W, H         int
	Bars         []chartBar
	Line         string // polyline points of the order counts
	Dots         []chartDot
	Grid         []chartTick // revenue axis (left)
	OrderTicks   []chartTick // order axis (right)
	XLabels      []chartTick
	Summary      string // what the chart shows, in words
	PlotL, PlotR int
	PlotT, PlotB int
}

type chartBar struct {
	X, Y, W, H int
	Title      string
}

type chartDot struct{ X, Y int }

type chartTick struct {
	X, Y  int
	Label string
}

func newChart(days []analytics.Day) chart {
	c := chart{W: 760, H: 260, PlotL: 64, PlotR: 716, PlotT: 16, PlotB: 220}
	if len(days) == 0 {
		return c
	}
	var maxRev, maxOrders, total, orders int64
	for _, d := range days {
		maxRev = max(maxRev, d.Revenue.Amount)
		maxOrders = max(maxOrders, d.Orders)
		total += d.Revenue.Amount
		orders += d.Orders
	}
	revTop := niceCeil(maxRev)
	ordTop := niceCeil(maxOrders)
	plotH := c.PlotB - c.PlotT
	step := float64(c.PlotR-c.PlotL) / float64(len(days))
	barW := max(int(step*0.7), 2)
	cur := days[0].Revenue.Currency
	for i, d := range days {
		x := c.PlotL + int(float64(i)*step+(step-float64(barW))/2)
		h := int(float64(d.Revenue.Amount) / float64(revTop) * float64(plotH))
		title := fmt.Sprintf("%s: %s, %d orders", d.Date, d.Revenue.Format(), d.Orders)
		c.Bars = append(c.Bars, chartBar{X: x, Y: c.PlotB - h, W: barW, H: h, Title: title})
		cx := c.PlotL + int(float64(i)*step+step/2)
		cy := c.PlotB - int(float64(d.Orders)/float64(ordTop)*float64(plotH))
		if c.Line != "" {
			c.Line += " "
		}
		c.Line += strconv.Itoa(cx) + "," + strconv.Itoa(cy)
		c.Dots = append(c.Dots, chartDot{X: cx, Y: cy})
		if (len(days)-1-i)%7 == 0 { // the last day, and every week back from it
			t, _ := time.Parse("2006-01-02", d.Date)
			c.XLabels = append(c.XLabels, chartTick{X: cx, Y: c.PlotB + 20, Label: t.Format("2 Jan")})
		}
	}
	for k := int64(0); k <= 4; k++ {
		y := c.PlotB - int(float64(k)/4*float64(plotH))
		rev := revTop * k / 4
		c.Grid = append(c.Grid, chartTick{X: c.PlotL - 8, Y: y, Label: shortMoney(rev, cur)})
		c.OrderTicks = append(c.OrderTicks, chartTick{X: c.PlotR + 8, Y: y, Label: strconv.FormatInt(ordTop*k/4, 10)})
	}
	unit := "orders"
	if orders == 1 {
		unit = "order"
	}
	c.Summary = fmt.Sprintf("Revenue (bars, left axis) and orders (line, right axis) per day from %s to %s: %d %s, %s in total.",
		days[0].Date, days[len(days)-1].Date, orders, unit, moneyOf(total, cur))
	return c
}

// niceCeil rounds n up to 1, 2, 4, 6 or 8 times a power of ten (at least
// 4), so the four grid steps land on round numbers.
func niceCeil(n int64) int64 {
	if n <= 4 {
		return 4
	}
	p := int64(1)
	for p*10 < n {
		p *= 10
	}
	for _, m := range []int64{1, 2, 4, 6, 8, 10} {
		if m*p >= n {
			return m * p
		}
	}
	return 10 * p
}

func moneyOf(amount int64, currency string) string {
	return money.Money{Amount: amount, Currency: currency}.Format()
}

// shortMoney is an axis label: "€1,250" style without minor units.
func shortMoney(amount int64, currency string) string {
	s := moneyOf(amount, currency)
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		s = s[:i] + s[j:]
	}
	return s
}
