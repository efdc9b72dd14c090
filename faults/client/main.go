// faults/client: the load and attack client of `make faults` (faults/run.sh). Loopback only, stdlib only.
//
// Modes:
//
//	load       -c workers, each its own keep-alive mTLS connection (net/http, one Transport per worker),
//	           POSTs back to back (or paced to -rate requests/s for the whole process), each with a unique
//	           webhook-id and a unique body, until -d passes or the file -stop exists. Every answer is appended
//	           to -events as "unix_ms status delivery_id latency_ms" (delivery_id "-" when none; status 0 =
//	           transport error or -timeout). Prints one line: label= sent= ok= s429= s503= s5xx= other= errors= p50_ms= p99_ms=.
//	slowloris  -n connections that complete the TLS handshake, then send one byte of a request head every
//	           -every; a connection the server closes is reopened (as an attacker would). Runs for -d.
//	stall      -n connections that send the head of a -size body plus -send body bytes, then stall for -d.
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	flMode    = flag.String("mode", "load", "load | slowloris | stall")
	flURL     = flag.String("url", "", "https://127.0.0.1:PORT/webhooks/NAME")
	flCert    = flag.String("cert", "", "client certificate")
	flKey     = flag.String("key", "", "client key")
	flCA      = flag.String("ca", "", "CA of the server certificate")
	flC       = flag.Int("c", 4, "load: workers (one connection each)")
	flN       = flag.Int("n", 100, "slowloris/stall: connections")
	flD       = flag.Duration("d", 10*time.Second, "duration")
	flRate    = flag.Float64("rate", 0, "load: requests/s for the whole process (0: as fast as answered)")
	flStop    = flag.String("stop", "", "load: stop when this file exists")
	flEvents  = flag.String("events", "", "load: append one line per answer here")
	flLabel   = flag.String("label", "load", "label")
	flPrefix  = flag.String("prefix", "f", "webhook-id prefix")
	flTimeout = flag.Duration("timeout", 15*time.Second, "load: per-request timeout")
	flBackoff = flag.Duration("backoff", 0, "load: pause after a non-200 answer or an error")
	flEvery   = flag.Duration("every", 5*time.Second, "slowloris: one head byte per this")
	flSize    = flag.Int("size", 1<<20, "stall: Content-Length")
	flSend    = flag.Int("send", 16384, "stall: body bytes sent before stalling")
)

func tlsConfig() *tls.Config {
	cert, err := tls.LoadX509KeyPair(*flCert, *flKey)
	if err != nil {
		fail(err)
	}
	pem, err := os.ReadFile(*flCA)
	if err != nil {
		fail(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: "localhost"}
}

func fail(err error) { fmt.Fprintln(os.Stderr, "client:", err); os.Exit(2) }

func hostPort() (string, string) {
	u := strings.TrimPrefix(*flURL, "https://")
	i := strings.Index(u, "/")
	if !strings.HasPrefix(u, "127.0.0.1:") {
		fail(fmt.Errorf("loopback only: %s", *flURL))
	}
	return u[:i], u[i:]
}

func main() {
	flag.Parse()
	switch *flMode {
	case "load":
		load()
	case "slowloris":
		slowloris()
	case "stall":
		stall()
	default:
		fail(fmt.Errorf("unknown mode %s", *flMode))
	}
}

type counts struct {
	sent, ok, s429, s503, s5xx, other, errors atomic.Int64
}

func load() {
	cfg := tlsConfig()
	var run [8]byte
	rand.Read(run[:])
	runID := *flPrefix + "-" + hex.EncodeToString(run[:])
	var ev *os.File
	var evMu sync.Mutex
	if *flEvents != "" {
		var err error
		if ev, err = os.OpenFile(*flEvents, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			fail(err)
		}
		defer ev.Close()
	}
	var pace <-chan time.Time
	if *flRate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / *flRate))
		defer t.Stop()
		pace = t.C
	}
	deadline := time.Now().Add(*flD)
	stopped := func() bool {
		if time.Now().After(deadline) {
			return true
		}
		if *flStop != "" {
			if _, err := os.Stat(*flStop); err == nil {
				return true
			}
		}
		return false
	}
	var c counts
	var latMu sync.Mutex
	var lats []time.Duration
	var wg sync.WaitGroup
	for w := 0; w < *flC; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			tr := &http.Transport{TLSClientConfig: cfg, MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, ForceAttemptHTTP2: false,
				TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}
			cl := &http.Client{Transport: tr, Timeout: *flTimeout}
			var my []time.Duration
			for i := 0; !stopped(); i++ {
				if pace != nil {
					<-pace
					if stopped() {
						break
					}
				}
				id := fmt.Sprintf("%s-%d-%d", runID, w, i)
				body := fmt.Sprintf(`{"type":"fault.test","id":"%s","n":%d,"pad":"%s"}`, id, i, strings.Repeat("x", 200))
				req, _ := http.NewRequest("POST", *flURL, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("webhook-id", id)
				c.sent.Add(1)
				t0 := time.Now()
				resp, err := cl.Do(req)
				status, did := 0, "-"
				if err != nil {
					c.errors.Add(1)
				} else {
					b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
					resp.Body.Close()
					status = resp.StatusCode
					switch {
					case status == 200:
						var a struct {
							DeliveryID string `json:"delivery_id"`
							Duplicate  bool   `json:"duplicate"`
						}
						if json.Unmarshal(b, &a) == nil && a.DeliveryID != "" {
							did = a.DeliveryID
						}
						c.ok.Add(1)
						my = append(my, time.Since(t0))
					case status == 429:
						c.s429.Add(1)
					case status == 503:
						c.s503.Add(1)
					case status >= 500:
						c.s5xx.Add(1)
					default:
						c.other.Add(1)
					}
				}
				if ev != nil {
					evMu.Lock()
					fmt.Fprintf(ev, "%d %d %s %d\n", time.Now().UnixMilli(), status, did, time.Since(t0).Milliseconds())
					evMu.Unlock()
				}
				if status != 200 && *flBackoff > 0 {
					time.Sleep(*flBackoff)
				}
			}
			tr.CloseIdleConnections()
			latMu.Lock()
			lats = append(lats, my...)
			latMu.Unlock()
		}(w)
	}
	wg.Wait()
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	q := func(p float64) string {
		if len(lats) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", float64(lats[int(p*float64(len(lats)-1))].Microseconds())/1000)
	}
	fmt.Printf("label=%s sent=%d ok=%d s429=%d s503=%d s5xx=%d other=%d errors=%d p50_ms=%s p99_ms=%s\n", *flLabel,
		c.sent.Load(), c.ok.Load(), c.s429.Load(), c.s503.Load(), c.s5xx.Load(), c.other.Load(), c.errors.Load(), q(0.5), q(0.99))
}

func dial(cfg *tls.Config, addr string) (*tls.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	return conn, err
}

func slowloris() {
	cfg := tlsConfig()
	addr, path := hostPort()
	head := []byte("POST " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nwebhook-id: slow\r\nContent-Length: 2\r\n\r\n{}")
	end := time.Now().Add(*flD)
	var open, maxOpen, handshakes, closed, failed atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < *flN; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 2 * time.Millisecond) // ramp: 500 handshakes/s at most
			for time.Now().Before(end) {
				conn, err := dial(cfg, addr)
				if err != nil {
					failed.Add(1)
					time.Sleep(time.Second)
					continue
				}
				handshakes.Add(1)
				if o := open.Add(1); o > maxOpen.Load() {
					maxOpen.Store(o)
				}
				for k := 0; time.Now().Before(end); k = (k + 1) % len(head) {
					conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
					if _, err := conn.Write(head[k : k+1]); err != nil {
						break
					}
					// notice a close by the server while waiting
					conn.SetReadDeadline(time.Now().Add(*flEvery))
					var b [512]byte
					if _, err := conn.Read(b[:]); err != nil {
						if ne, ok := err.(net.Error); ok && ne.Timeout() {
							continue
						}
						break
					}
					break // any answer: the server gave up on us
				}
				open.Add(-1)
				conn.Close()
				if time.Now().Before(end) {
					closed.Add(1)
				}
			}
		}(i)
	}
	wg.Wait()
	fmt.Printf("label=%s conns=%d max_open=%d handshakes=%d closed_by_server=%d failed=%d\n", *flLabel, *flN,
		maxOpen.Load(), handshakes.Load(), closed.Load(), failed.Load())
}

func stall() {
	cfg := tlsConfig()
	addr, path := hostPort()
	end := time.Now().Add(*flD)
	var opened, sent, answered, failed atomic.Int64
	var answersMu sync.Mutex
	answers := map[string]int{}
	var wg sync.WaitGroup
	chunk := bytes.Repeat([]byte("x"), *flSend)
	for i := 0; i < *flN; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 2 * time.Millisecond)
			conn, err := dial(cfg, addr)
			if err != nil {
				failed.Add(1)
				return
			}
			defer conn.Close()
			opened.Add(1)
			head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nwebhook-id: stall-%d\r\nContent-Length: %d\r\n\r\n", path, i, *flSize)
			conn.SetWriteDeadline(time.Now().Add(20 * time.Second))
			if _, err := conn.Write(append([]byte(head), chunk...)); err != nil {
				failed.Add(1)
				return
			}
			sent.Add(1)
			conn.SetReadDeadline(end)
			var b [256]byte
			n, _ := conn.Read(b[:])
			if n > 0 {
				answered.Add(1)
				line := strings.SplitN(string(b[:n]), "\r\n", 2)[0]
				answersMu.Lock()
				answers[line]++
				answersMu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	var parts []string
	for k, v := range answers {
		parts = append(parts, fmt.Sprintf("%q=%d", k, v))
	}
	fmt.Printf("label=%s conns=%d opened=%d sent=%d answered=%d failed=%d answers=%s\n", *flLabel, *flN, opened.Load(),
		sent.Load(), answered.Load(), failed.Load(), strings.Join(parts, ","))
}
