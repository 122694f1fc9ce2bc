package app

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestTrustedProxiesSetting(t *testing.T) {
	c := defaultConfig(func(k string) string {
		if k == "MERCATO_TRUSTED_PROXIES" {
			return " 10.0.0.0/8, 127.0.0.1 ,::1"
		}
		return ""
	})
	if err := c.parseProxies(); err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, p := range c.TrustedProxies {
		got = append(got, p.String())
	}
	if strings.Join(got, ",") != "10.0.0.0/8,127.0.0.1/32,::1/128" {
		t.Fatalf("TrustedProxies = %v", got)
	}

	var stderr bytes.Buffer
	getenv := func(k string) string {
		switch k {
		case "MERCATO_TRUSTED_PROXIES":
			return "10.0.0.0/33"
		case "MERCATO_DATA_DIR":
			return t.TempDir()
		}
		return ""
	}
	err := Run(context.Background(), []string{"mercato", "migrate"}, getenv, nil, &bytes.Buffer{}, &stderr)
	if !IsUsage(err) || !strings.Contains(err.Error(), "MERCATO_TRUSTED_PROXIES") {
		t.Fatalf("bad proxy setting: err = %v, want a usage error naming the variable", err)
	}
}
