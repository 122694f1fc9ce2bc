// Package e2e holds Mercato's browser tests: they start the real program
// (app.Run with "mercato serve" on 127.0.0.1:0 and a fresh data folder, so
// the demo catalog loads) and drive it with a real Chromium through the
// DevTools protocol (chromedp). The package has no code outside its tests.
//
// Environment:
//
//	MERCATO_TEST_CHROMIUM          Chromium to run (default /usr/bin/chromium)
//	MERCATO_TEST_REQUIRE_SERVICES  1: a missing Chromium fails instead of skipping
//	MERCATO_UPDATE_SCREENSHOTS     1: write the screenshots to docs/screenshots
//	                               (otherwise to a temporary folder)
package e2e
