package storetest

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
	"unsafe"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/connector/syslog/parse"
	"github.com/sluicehq/sluice/event"
)

// payload selects what [Events] returns: "realistic" or "padded".
var payload = flag.String("storetest.payload", "realistic",
	`the store benchmarks' events: "realistic" (varied syslog lines, see Realistic) or "padded" (Padded, the payload before session 9)`)

// Events returns n events timed from at on, of the payload the test flag
// -storetest.payload selects: [Realistic] (the default) or [Padded].
func Events(n int, at time.Time) []sluice.Message[event.Event] {
	switch *payload {
	case "realistic":
		return Realistic(n, at)
	case "padded":
		return Padded(n, at)
	}
	panic(fmt.Sprintf("storetest: -storetest.payload=%q: want realistic or padded", *payload))
}

// Padded returns n syslog events whose raw lines are 250 bytes, padded
// with 'x', timed at. They compress about 76× with gzip, far better than
// logs do, so a benchmark with them under-weighs compression.
func Padded(n int, at time.Time) []sluice.Message[event.Event] {
	msgs := make([]sluice.Message[event.Event], n)
	for i := range msgs {
		raw := bytes.Repeat([]byte("x"), 250)
		copy(raw, "<34>1 2026-11-24T23:00:00Z host app 1234 ID47 - user login failed for alice from 10.0.0."+strconv.Itoa(i))
		msgs[i].Value = event.Event{Time: at, ReceivedAt: at, Source: "syslog", SourceType: "syslog", Host: "10.0.0.1", Raw: raw}
	}
	return msgs
}

// Realistic returns n distinct syslog events as the syslog source makes
// them (parsed, the syslog fields pointing into Raw), timed from at on,
// 0–2 ms apart, from 48 hosts: nginx access lines (half of them, with
// client addresses, paths, ids, statuses, sizes, referrers and user
// agents that vary), sshd, an application's RFC 5424 lines with
// structured data (request ids of 16 random hex digits) and systemd/cron
// lines. Raw lines average about 220 bytes. The same n and at give the
// same events. Send a benchmark's events from a pool larger than a
// compressor's window (32 KiB, some 150 events), as PerEvent does, so
// that gzip sees no repetition logs do not have.
func Realistic(n int, at time.Time) []sluice.Message[event.Event] {
	r := rand.New(rand.NewPCG(17, uint64(n)))
	msgs := make([]sluice.Message[event.Event], n)
	t := at
	for i := range msgs {
		t = t.Add(time.Duration(r.IntN(2000)) * time.Microsecond)
		h := r.IntN(len(hostNames))
		raw := line(r, t, hostNames[h])
		m, err := parse.Parse(raw, parse.Auto, t, time.UTC)
		if err != nil {
			panic(fmt.Sprintf("storetest: %q: %v", raw, err))
		}
		msgs[i].Value = event.Event{Time: m.Timestamp, ReceivedAt: t.Add(time.Duration(r.IntN(3000)) * time.Microsecond),
			Source: "syslog", SourceType: "syslog", Host: "10.20." + strconv.Itoa(h/8) + "." + strconv.Itoa(10+h), Raw: raw,
			Syslog: event.Syslog{Present: true, Facility: m.Facility, Severity: m.Severity, Version: m.Version,
				Hostname: str(m.Hostname), AppName: str(m.AppName), ProcID: str(m.ProcID), MsgID: str(m.MsgID),
				StructuredData: str(m.StructuredData), Message: str(m.Msg)}}
	}
	return msgs
}

// str returns b, a part of Raw, as a string that points into it, as the
// syslog source's fields do (the encoding copies such a field without a
// second look where Raw had nothing to escape).
func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

var hostNames = func() []string {
	var h []string
	for _, role := range []string{"web", "api", "db", "cache", "worker", "lb"} {
		for k := 1; k <= 8; k++ {
			h = append(h, fmt.Sprintf("%s-%02d.prod.example.net", role, k))
		}
	}
	return h
}()

// line returns one raw syslog line sent by host at t.
func line(r *rand.Rand, t time.Time, host string) []byte {
	switch k := r.IntN(20); {
	case k < 10:
		return nginx(r, t, host)
	case k < 13:
		return sshd(r, t, host)
	case k < 17:
		return app(r, t, host)
	default:
		return systemd(r, t, host)
	}
}

var (
	methods = []string{"GET", "GET", "GET", "GET", "POST", "POST", "PUT", "DELETE", "HEAD"}
	paths   = []string{"/", "/index.html", "/api/v1/orders/%d", "/api/v1/users/%d/profile", "/api/v2/search?q=%s&page=%d",
		"/static/js/app.%x.js", "/static/css/main.%x.css", "/images/products/%d.jpg", "/cart", "/checkout/%d",
		"/healthz", "/metrics", "/login", "/logout", "/api/v1/sessions", "/feed.xml", "/robots.txt", "/favicon.ico"}
	statuses = []int{200, 200, 200, 200, 200, 200, 200, 200, 304, 304, 301, 302, 400, 401, 403, 404, 404, 499, 500, 502, 503}
	agents   = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
		"curl/8.11.0", "python-requests/2.32.3", "Go-http-client/1.1", "kube-probe/1.31", "Prometheus/2.55.1",
		"okhttp/4.12.0", "Wget/1.24.5", "-",
	}
	referrers = []string{"-", "-", "-", "https://www.example.com/", "https://www.example.com/cart", "https://www.google.com/",
		"https://shop.example.com/products?page=%d", "https://t.co/%s"}
	words  = []string{"shoes", "red+dress", "laptop", "usb-c+cable", "garden+chair", "coffee", "headphones", "gift+card", "lamp", "tent"}
	users  = []string{"root", "admin", "ubuntu", "deploy", "git", "postgres", "oracle", "test", "alice", "bob", "backup", "pi"}
	months = []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
)

// ip returns a client address: mostly public ranges, some private.
func ip(r *rand.Rand) string {
	if r.IntN(5) == 0 {
		return "10." + strconv.Itoa(r.IntN(256)) + "." + strconv.Itoa(r.IntN(256)) + "." + strconv.Itoa(1+r.IntN(254))
	}
	return strconv.Itoa(1+r.IntN(223)) + "." + strconv.Itoa(r.IntN(256)) + "." + strconv.Itoa(r.IntN(256)) + "." + strconv.Itoa(1+r.IntN(254))
}

// fill replaces each verb of f (%d, %x, %s) with a value drawn from r.
func fill(r *rand.Rand, f string) string {
	var b []byte
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 == len(f) {
			b = append(b, f[i])
			continue
		}
		i++
		switch f[i] {
		case 'd':
			b = strconv.AppendInt(b, int64(1+r.IntN(99999)), 10)
		case 'x':
			b = strconv.AppendUint(b, r.Uint64()>>32, 16)
		case 's':
			b = append(b, words[r.IntN(len(words))]...)
		}
	}
	return string(b)
}

// rfc3164 returns the header of an RFC 3164 line: "<PRI>Mmm dd hh:mm:ss host ".
func rfc3164(pri int, t time.Time, host string) []byte {
	b := []byte("<" + strconv.Itoa(pri) + ">" + months[t.Month()-1] + " ")
	b = fmt.Appendf(b, "%2d %s %s ", t.Day(), t.Format("15:04:05"), host)
	return b
}

func nginx(r *rand.Rand, t time.Time, host string) []byte {
	status := statuses[r.IntN(len(statuses))]
	pri := 190 // local7.info
	if status >= 500 {
		pri = 187 // local7.err
	}
	b := rfc3164(pri, t, host)
	b = fmt.Appendf(b, "nginx: %s - - [%s] \"%s %s HTTP/1.1\" %d %d \"%s\" \"%s\" %d.%03d", ip(r), t.Format("02/Jan/2006:15:04:05 -0700"),
		methods[r.IntN(len(methods))], fill(r, paths[r.IntN(len(paths))]), status, r.IntN(60000),
		fill(r, referrers[r.IntN(len(referrers))]), agents[r.IntN(len(agents))], r.IntN(2), r.IntN(1000))
	return b
}

func sshd(r *rand.Rand, t time.Time, host string) []byte {
	b := rfc3164(38, t, host) // auth.info
	b = fmt.Appendf(b, "sshd[%d]: ", 1000+r.IntN(60000))
	switch u, a, port := users[r.IntN(len(users))], ip(r), 1024+r.IntN(64000); r.IntN(4) {
	case 0:
		b = fmt.Appendf(b, "Accepted publickey for %s from %s port %d ssh2: ED25519 SHA256:%s", u, a, port, fill(r, "%x%x%x"))
	case 1:
		b = fmt.Appendf(b, "Failed password for invalid user %s from %s port %d ssh2", u, a, port)
	case 2:
		b = fmt.Appendf(b, "Connection closed by authenticating user %s %s port %d [preauth]", u, a, port)
	default:
		b = fmt.Appendf(b, "pam_unix(sshd:session): session opened for user %s(uid=%d) by (uid=0)", u, 1000+r.IntN(100))
	}
	return b
}

func app(r *rand.Rand, t time.Time, host string) []byte {
	apps := []string{"checkout", "payments", "inventory", "search"}
	sev := []int{6, 6, 6, 6, 5, 4, 3, 7}[r.IntN(8)]
	b := fmt.Appendf(nil, "<%d>1 %s %s %s %d ", 16*8+sev, t.Format("2006-01-02T15:04:05.000000Z07:00"), host,
		apps[r.IntN(len(apps))], 100+r.IntN(30000))
	req := fmt.Sprintf("%016x", r.Uint64())
	switch r.IntN(4) {
	case 0:
		b = fmt.Appendf(b, "ORDER [req@32473 id=\"%s\" user=\"u-%d\"] order %d placed: %d items, total %d.%02d EUR in %dms",
			req, r.IntN(100000), r.IntN(1000000), 1+r.IntN(9), r.IntN(500), r.IntN(100), 5+r.IntN(900))
	case 1:
		b = fmt.Appendf(b, "DB [req@32473 id=\"%s\"] slow query (%dms): SELECT id, sku, qty FROM stock WHERE sku IN (%d, %d) FOR UPDATE",
			req, 100+r.IntN(5000), r.IntN(99999), r.IntN(99999))
	case 2:
		b = fmt.Appendf(b, "HTTP [req@32473 id=\"%s\" route=\"%s\"] upstream %s responded %d after %dms",
			req, fill(r, paths[r.IntN(len(paths))]), ip(r), statuses[r.IntN(len(statuses))], r.IntN(3000))
	default:
		b = fmt.Appendf(b, "CACHE - cache miss for key product:%d:v%d, loaded in %dms (%d entries, %d evicted)",
			r.IntN(99999), r.IntN(9), r.IntN(200), r.IntN(100000), r.IntN(50))
	}
	return b
}

func systemd(r *rand.Rand, t time.Time, host string) []byte {
	switch r.IntN(3) {
	case 0:
		b := rfc3164(30, t, host) // daemon.info
		return fmt.Appendf(b, "systemd[1]: Started session-%d.scope - Session %d of User %s.", r.IntN(9999), r.IntN(9999), users[r.IntN(len(users))])
	case 1:
		b := rfc3164(78, t, host) // cron.info
		return fmt.Appendf(b, "CRON[%d]: (%s) CMD (/usr/local/bin/backup --target s3://backups/%s/%d >/dev/null 2>&1)",
			1000+r.IntN(60000), users[r.IntN(len(users))], host, r.IntN(1000))
	default:
		b := rfc3164(4, t, host) // kern.warning
		return fmt.Appendf(b, "kernel: [%d.%06d] [UFW BLOCK] IN=eth0 OUT= SRC=%s DST=10.20.0.%d PROTO=TCP SPT=%d DPT=%d WINDOW=%d",
			r.IntN(9000000), r.IntN(1000000), ip(r), r.IntN(255), 1024+r.IntN(64000), []int{22, 23, 80, 443, 3389, 5432}[r.IntN(6)], r.IntN(65535))
	}
}
