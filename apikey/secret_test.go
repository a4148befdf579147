package apikey_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/apikey"
	"github.com/tollgate/tollgate/authtest"
)

func TestSecretsAndPeppersNeverPrint(t *testing.T) {
	k := newKeys(t, apikey.NewMemoryStore(), authtest.NewClock(start))
	_, secret, err := k.Create(context.Background(), spec())
	if err != nil {
		t.Fatal(err)
	}
	token := secret.Reveal()
	p := pepper(t, "p1")
	pepperKey := strings.Repeat("p1", 32)
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	log.Info("created", "secret", secret, "pepper", p)
	log.Info("created", slog.Any("wrapped", struct{ S apikey.Secret }{secret}))
	js, _ := json.Marshal(map[string]any{"secret": secret, "nested": struct{ S apikey.Secret }{secret}})
	text, _ := secret.MarshalText()
	outputs := []string{
		fmt.Sprint(secret), fmt.Sprintf("%v %+v %#v %s %q %x %X", secret, secret, secret, secret, secret, secret, secret),
		fmt.Sprintf("%v %+v %#v %s", p, p, p, p), fmt.Sprintf("%v", []apikey.Pepper{p}),
		fmt.Sprintf("%+v", struct{ S apikey.Secret }{secret}),
		logs.String(), string(js), string(text),
	}
	for _, out := range outputs {
		if strings.Contains(out, token) || strings.Contains(out, token[8:20]) || strings.Contains(out, pepperKey) {
			t.Errorf("printed a secret: %s", out)
		}
		if !strings.Contains(out, "[REDACTED]") {
			t.Errorf("no [REDACTED] in %s", out)
		}
	}
}

func TestParsePeppers(t *testing.T) {
	key := bytes.Repeat([]byte{0xfb}, 32)
	std, url := base64.StdEncoding.EncodeToString(key), base64.RawURLEncoding.EncodeToString(key)
	ps, err := apikey.ParsePeppers("p2:" + std + ", p1:" + url)
	if err != nil || len(ps) != 2 || ps[0].ID() != "p2" || ps[1].ID() != "p1" {
		t.Fatalf("ParsePeppers = %v, %v; want p2 then p1", ps, err)
	}
	short := base64.StdEncoding.EncodeToString(key[:31])
	for _, bad := range []string{"", "p1", "p1:" + short, "p1:not*base64", ":" + std, "p1:" + std + ",p1:" + std, "p 1:" + std} {
		if _, err := apikey.ParsePeppers(bad); err == nil {
			t.Errorf("ParsePeppers(%q) accepted", bad)
		} else if strings.Contains(err.Error(), std) {
			t.Errorf("error %q shows the key", err)
		}
	}
}
