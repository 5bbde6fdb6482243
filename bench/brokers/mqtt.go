package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/sluicehq/sluice/bench/internal/benchproc"
)

// startMosquitto runs Debian's mosquitto with the settings docs/ ask
// users to set (no queue limit, 1000 in flight) and returns its URL.
func startMosquitto(e *env) (string, func(), error) {
	bin, err := lookPath("mosquitto")
	if err != nil {
		return "", nil, err
	}
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	conf := filepath.Join(e.dir, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nmax_inflight_messages 1000\npersistence false\nlog_dest stderr\n", port)), 0o644); err != nil {
		return "", nil, err
	}
	p, err := benchproc.Start(exec.Command(bin, "-c", conf), "running")
	if err != nil {
		return "", nil, err
	}
	return "tcp://127.0.0.1:" + strconv.Itoa(port), p.Stop, nil
}

// connect connects a paho client with a persistent session if id is set.
func connect(url, id string, clean bool, handler paho.MessageHandler) (paho.Client, error) {
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(clean).SetDefaultPublishHandler(handler))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("connect %s: %v", url, tok.Error())
	}
	return c, nil
}

// counter subscribes to topic at QoS 1 and returns a wait for n messages.
func counter(url, topic string, n int) (func() error, func(), error) {
	var got atomic.Int64
	c, err := connect(url, "count-"+topic, true, func(paho.Client, paho.Message) { got.Add(1) })
	if err != nil {
		return nil, nil, err
	}
	if tok := c.Subscribe(topic, 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		c.Disconnect(0)
		return nil, nil, fmt.Errorf("subscribe: %v", tok.Error())
	}
	wait := func() error {
		return waitFor(fmt.Sprintf("%d messages on %s", n, topic), n, func() (int64, error) { return got.Load(), nil })
	}
	return wait, func() { c.Disconnect(100) }, nil
}

var mqttProduce = benchCase{name: "mqtt-produce", needs: []string{"mosquitto"}, setup: func(e *env) ([]subject, func(), error) {
	url, stop, err := startMosquitto(e)
	if err != nil {
		return nil, nil, err
	}
	measure := func(topic string, run func(wait func() error) (benchproc.Result, error)) (benchproc.Result, error) {
		wait, done, err := counter(url, topic, e.n)
		if err != nil {
			return benchproc.Result{}, err
		}
		defer done()
		return run(wait)
	}
	return []subject{
		{"plain paho QoS 1 loop", true, func(i int) (benchproc.Result, error) {
			t := fmt.Sprintf("bench/plain/%d", i)
			return measure(t, func(wait func() error) (benchproc.Result, error) {
				return plainRun(e, "mqtt-produce", wait, "-addr", url, "-target", t, "-in", e.input)
			})
		}},
		{"sluiced file → mqtt", false, func(i int) (benchproc.Result, error) {
			t := fmt.Sprintf("bench/sluiced/%d", i)
			return measure(t, func(wait func() error) (benchproc.Result, error) {
				return sluicedRun(e, fmt.Sprintf("mqtt-produce-%d", i), func(dir string) string {
					return fmt.Sprintf(`{"dataDir": %q, "sources": {"in": %s},
						"destinations": {"out": {"type": "mqtt", "broker": %q, "topic": %q, "qos": 1}}}`, dir, fileSource(e.input), url, t)
				}, wait)
			})
		}},
	}, stop, nil
}}

// queue makes the broker hold a persistent session for id, subscribed to
// topic at QoS 1, with the n events queued in it.
func queue(url, id, topic string, n int) error {
	c, err := connect(url, id, false, nil)
	if err != nil {
		return err
	}
	if tok := c.Subscribe(topic, 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("subscribe: %v", tok.Error())
	}
	c.Disconnect(100)
	p, err := connect(url, "fill-"+id, true, nil)
	if err != nil {
		return err
	}
	defer p.Disconnect(100)
	toks := make([]paho.Token, 0, 1000)
	for i := range n {
		toks = append(toks, p.Publish(topic, 1, false, line(i)))
		if len(toks) == cap(toks) || i == n-1 {
			for _, tok := range toks {
				if tok.Wait(); tok.Error() != nil {
					return tok.Error()
				}
			}
			toks = toks[:0]
		}
	}
	return nil
}

var mqttConsume = benchCase{name: "mqtt-consume", needs: []string{"mosquitto"}, setup: func(e *env) ([]subject, func(), error) {
	url, stop, err := startMosquitto(e)
	if err != nil {
		return nil, nil, err
	}
	return []subject{
		{"plain paho subscriber (write, fsync per 256, auto-ack)", true, func(i int) (benchproc.Result, error) {
			id := fmt.Sprintf("mqtt-plain-consume-%d", i)
			if err := queue(url, id, "bench/in/"+id, e.n); err != nil {
				return benchproc.Result{}, err
			}
			o := filepath.Join(e.dir, id+".log")
			return plainRun(e, "mqtt-consume", waitFile(o, e.n), "-addr", url, "-target", id, "-out", o)
		}},
		{"sluiced mqtt → file", false, func(i int) (benchproc.Result, error) {
			id := fmt.Sprintf("mqtt-sluiced-consume-%d", i)
			if err := queue(url, id, "bench/in/"+id, e.n); err != nil {
				return benchproc.Result{}, err
			}
			o := filepath.Join(e.dir, id+".log")
			return sluicedRun(e, id, func(dir string) string {
				return fmt.Sprintf(`{"dataDir": %q, "sources": {"in": {"type": "mqtt", "broker": %q, "clientID": %q, "topic": %q, "qos": 1}},
					"destinations": {"out": %s}}`, dir, url, id, "bench/in/"+id, fileDest(o))
			}, waitFile(o, e.n))
		}},
	}, stop, nil
}}
