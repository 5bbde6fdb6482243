package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const secretValue = "s3cr3t-value"

type withSecret struct {
	User  string  `json:"user"`
	Token Secret  `json:"token"`
	Ptr   *Secret `json:"ptr"`
}

func TestSecretFmt(t *testing.T) {
	s := Secret(secretValue)
	cfg := withSecret{User: "u", Token: s, Ptr: &s}
	tests := []struct {
		format string
		arg    any
		want   string
	}{
		{"%v", s, "REDACTED"},
		{"%s", s, "REDACTED"},
		{"%+v", s, "REDACTED"},
		{"%#v", s, `"REDACTED"`},
		{"%q", s, `"REDACTED"`},
		{"%x", s, "REDACTED"},
		{"%X", s, "REDACTED"},
		{"%d", s, "REDACTED"},
		{"%10s|", s, "  REDACTED|"},
		{"%-10v|", s, "REDACTED  |"},
		{"%v", cfg, "{u REDACTED REDACTED}"},
		{"%+v", cfg, "{User:u Token:REDACTED Ptr:REDACTED}"},
		{"%#v", cfg, `config.withSecret{User:"u", Token:"REDACTED", Ptr:"REDACTED"}`},
		{"%v", &s, "REDACTED"},
		{"%v", *cfg.Ptr, "REDACTED"},
		{"%v", []Secret{s}, "[REDACTED]"},
		{"%q", []Secret{s}, `["REDACTED"]`},
		{"%v", map[string]Secret{"k": s}, "map[k:REDACTED]"},
		{"%v", any(s), "REDACTED"},
		{"%s", s.String(), "REDACTED"},
		{"%s", s.GoString(), `"REDACTED"`},
		{"%v", Secret(""), ""},
		{"%q", Secret(""), `""`},
		{"%#v", Secret(""), `""`},
	}
	for _, tc := range tests {
		got := fmt.Sprintf(tc.format, tc.arg)
		if got != tc.want {
			t.Errorf("Sprintf(%q) = %q, want %q", tc.format, got, tc.want)
		}
		if strings.Contains(got, secretValue) {
			t.Errorf("Sprintf(%q) shows the secret: %q", tc.format, got)
		}
	}
	if got := fmt.Sprint(s, cfg); strings.Contains(got, secretValue) {
		t.Errorf("Sprint shows the secret: %q", got)
	}
	if got := fmt.Sprintln(s); got != "REDACTED\n" {
		t.Errorf("Sprintln = %q", got)
	}
	if got := s.Reveal(); got != secretValue {
		t.Errorf("Reveal() = %q, want %q", got, secretValue)
	}
}

func TestSecretMarshal(t *testing.T) {
	s := Secret(secretValue)
	for _, tc := range []struct {
		v    any
		want string
	}{
		{s, `"REDACTED"`},
		{Secret(""), `""`},
		{withSecret{User: "u", Token: s, Ptr: &s}, `{"user":"u","token":"REDACTED","ptr":"REDACTED"}`},
		{map[string]Secret{"k": s}, `{"k":"REDACTED"}`},
		{[]Secret{s, ""}, `["REDACTED",""]`},
	} {
		b, err := json.Marshal(tc.v)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Errorf("json.Marshal = %s, want %s", b, tc.want)
		}
	}
	if b, _ := s.MarshalText(); string(b) != "REDACTED" {
		t.Errorf("MarshalText = %q", b)
	}
	if b, _ := Secret("").MarshalText(); string(b) != "" {
		t.Errorf("MarshalText of empty = %q", b)
	}
}

func TestSecretSlog(t *testing.T) {
	s := Secret(secretValue)
	handlers := map[string]func(*bytes.Buffer) slog.Handler{
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	}
	for name, h := range handlers {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			log := slog.New(h(&b))
			log.Info("start", "token", s)
			log.Info("start", slog.Any("token", s))
			log.Info("start", "config", withSecret{User: "u", Token: s, Ptr: &s})
			log.Info("start", "config", &withSecret{User: "u", Token: s, Ptr: &s})
			log.Info("start", slog.Group("g", "token", s))
			log.With("token", s).Info("start")
			out := b.String()
			if strings.Contains(out, secretValue) {
				t.Errorf("log shows the secret:\n%s", out)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 6 {
				t.Fatalf("got %d lines, want 6:\n%s", len(lines), out)
			}
			for _, line := range lines {
				if !strings.Contains(line, "REDACTED") {
					t.Errorf("no REDACTED in %s", line)
				}
			}
		})
	}
	if v := Secret("").LogValue(); v.String() != "" {
		t.Errorf("LogValue of empty = %q", v)
	}
}

func TestRedactUserinfo(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"nats://host:4222", "nats://host:4222"},
		{"nats://user:pw@host:4222", "nats://REDACTED@host:4222"},
		{"nats://tok3n@host:4222", "nats://REDACTED@host:4222"},
		{"tcp://u:p@ss@host", "tcp://REDACTED@host"},
		{"user:secret@host:4222", "REDACTED@host:4222"},
		{"nats://u:pw@[::1", "nats://REDACTED@[::1"},
		{"u:pw@h://x", "REDACTED@h://x"},
	} {
		if got := RedactUserinfo(tc.in); got != tc.want {
			t.Errorf("RedactUserinfo(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
