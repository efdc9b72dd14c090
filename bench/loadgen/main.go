// loadgen: the load client of `make bench` (bench/run.sh). HTTPS/1.1 with a client certificate
// (mutual TLS), bounded in requests and in seconds, loopback targets only.
//
// Each worker owns one connection (-c workers) and sends POSTs back to back, each with a 1 KiB body
// (-body) and a unique `webhook-id: <-id-prefix>-<random>-<n>` header, so a receiver with idempotency
// stores every request. Modes:
//
//	keep-alive (default)   reuse the connection; reconnect (full handshake) when the server closes it
//	-keepalive=false       one request per new TCP+TLS connection (`Connection: close`): a full handshake
//	                       per request, or with -resume a resumed one (TLS 1.3 PSK from a session ticket
//	                       the previous connection of that worker received)
//
// Phases: -warmup (not measured), then the measured window, which ends after -d or -n measured requests,
// whichever comes first. A request is measured when it starts inside the window; the window closes when
// the last measured request has its answer, and nothing new starts after -d, so CPU counters read at the
// two ends cover the measured requests (plus the tail of the warm-up's in-flight ones).
//
// Every request that was sent gets its answer read (or times out, -timeout), warm-up included, so
// `all_200` is exactly the number of 200s the server gave this process: the bench compares it with the
// rows stored.
//
// CPU accounting, -cpu NAME=PID or NAME=tree:PID (repeatable): utime+stime from /proc/PID/stat (all of
// its threads) read at both ends of the window; tree: adds cutime+cstime of PID and every live descendant
// (for a PostgreSQL postmaster: every backend and background process, exited ones through cutime).
// Reported as NAME_us (CPU µs per measured request) and NAME_pct (percent of one core). The client's
// own CPU (client_us, client_pct) and the whole machine's (busy_pct of 2 cores = 200, steal_pct,
// other_pct = busy - client - all -cpu groups) show whether the client or a neighbour limited the run.
//
// Output: one line of key=value pairs.
package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type cpuFlag []string

func (c *cpuFlag) String() string     { return strings.Join(*c, ",") }
func (c *cpuFlag) Set(v string) error { *c = append(*c, v); return nil }

var (
	flURL     = flag.String("url", "", "target URL, https://127.0.0.1:PORT/path (loopback only)")
	flSNI     = flag.String("servername", "localhost", "TLS server name (SNI and verification)")
	flCert    = flag.String("cert", "", "client certificate (PEM)")
	flKey     = flag.String("key", "", "client key (PEM)")
	flCA      = flag.String("ca", "", "CA certificate that signed the server's certificate")
	flBody    = flag.String("body", "", "file with the request body")
	flC       = flag.Int("c", 16, "concurrency: connections, one worker each")
	flN       = flag.Int("n", 1000000, "at most this many measured requests")
	flD       = flag.Duration("d", 10*time.Second, "at most this long a measured window")
	flWarm    = flag.Duration("warmup", time.Second, "warm-up before the window (not measured)")
	flKA      = flag.Bool("keepalive", true, "reuse connections; false: one request per connection")
	flResume  = flag.Bool("resume", false, "offer TLS session resumption (session tickets)")
	flTimeout = flag.Duration("timeout", 10*time.Second, "I/O deadline per request")
	flPrefix  = flag.String("id-prefix", "bench", "prefix of the webhook-id header values")
	flLabel   = flag.String("label", "", "copied to the output")
	flCPU     cpuFlag
)

type worker struct {
	lat               []time.Duration // measured requests
	ok, non2xx, errs  int64           // measured
	all200, allOther  int64           // every answer, warm-up included
	allErrs, dup      int64
	fullHS, resumedHS int64 // measured handshakes
	lastErr           string
	statuses          map[int]int64 // measured
}

var (
	phase   atomic.Int32 // 0 warm-up, 1 measuring, 2 stop
	issued  atomic.Int64 // measured requests started
	idSeq   atomic.Int64
	idNonce string
)

func main() {
	flag.Var(&flCPU, "cpu", "NAME=PID or NAME=tree:PID, CPU accounting (repeatable)")
	flag.Parse()
	u, err := url.Parse(*flURL)
	die(err)
	if u.Scheme != "https" || u.Port() == "" {
		die(errors.New("-url must be https://HOST:PORT/path"))
	}
	ips, err := net.LookupIP(u.Hostname())
	die(err)
	for _, ip := range ips {
		if !ip.IsLoopback() {
			die(fmt.Errorf("refusing a non-loopback target %s (%s)", u.Hostname(), ip))
		}
	}
	groups := parseCPU()
	var nonce [6]byte
	_, err = rand.Read(nonce[:])
	die(err)
	idNonce = hex.EncodeToString(nonce[:])
	body, err := os.ReadFile(*flBody)
	die(err)

	cfg := &tls.Config{ServerName: *flSNI, MinVersion: tls.VersionTLS13, MaxVersion: tls.VersionTLS13}
	kp, err := tls.LoadX509KeyPair(*flCert, *flKey)
	die(err)
	cfg.Certificates = []tls.Certificate{kp}
	pem, err := os.ReadFile(*flCA)
	die(err)
	cfg.RootCAs = x509.NewCertPool()
	if !cfg.RootCAs.AppendCertsFromPEM(pem) {
		die(errors.New("no certificate in -ca"))
	}
	if !*flResume {
		cfg.SessionTicketsDisabled = true
	}

	conn := "keep-alive"
	if !*flKA {
		conn = "close"
	}
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: webhookd-bench-loadgen\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\nConnection: %s\r\nwebhook-id: %s-%s-",
		u.RequestURI(), *flSNI, len(body), conn, *flPrefix, idNonce)

	ws := make([]*worker, *flC)
	var wg sync.WaitGroup
	for i := range ws {
		w := &worker{lat: make([]time.Duration, 0, 1024), statuses: map[int]int64{}}
		ws[i] = w
		// each worker has its own session cache: worker i resumes the session of its previous connection
		wcfg := cfg.Clone()
		if *flResume {
			wcfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		}
		wg.Add(1)
		go func() { defer wg.Done(); w.run(u.Host, wcfg, head, body) }()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	select {
	case <-time.After(*flWarm):
	case <-done:
	}
	c0 := snapCPU(groups)
	t0 := time.Now()
	phase.Store(1)
	select {
	case <-time.After(*flD):
	case <-done:
	}
	phase.Store(2)
	<-done // every worker finishes its request in flight (bounded by -timeout)
	elapsed := time.Since(t0)
	c1 := snapCPU(groups)
	report(ws, elapsed, groups, c0, c1)
}

func (w *worker) run(host string, cfg *tls.Config, head string, body []byte) {
	var tc *tls.Conn
	var br *bufio.Reader
	req := make([]byte, 0, len(head)+len(body)+64)
	resp := make([]byte, 0, 512)
	for {
		ph := phase.Load()
		if ph == 2 {
			break
		}
		measured := ph == 1
		if measured && issued.Add(1) > int64(*flN) {
			phase.CompareAndSwap(1, 2)
			break
		}
		start := time.Now()
		if tc == nil {
			c, err := net.DialTimeout("tcp", host, *flTimeout)
			if err != nil {
				w.fail(measured, err)
				time.Sleep(10 * time.Millisecond)
				continue
			}
			c.(*net.TCPConn).SetNoDelay(true)
			tc = tls.Client(c, cfg)
			tc.SetDeadline(time.Now().Add(*flTimeout))
			if err := tc.Handshake(); err != nil {
				tc.Close()
				tc = nil
				w.fail(measured, err)
				continue
			}
			if measured {
				if tc.ConnectionState().DidResume {
					w.resumedHS++
				} else {
					w.fullHS++
				}
			}
			br = bufio.NewReaderSize(tc, 4096)
		}
		req = append(req[:0], head...)
		req = strconv.AppendInt(req, idSeq.Add(1), 10)
		req = append(req, "\r\n\r\n"...)
		req = append(req, body...)
		tc.SetDeadline(time.Now().Add(*flTimeout))
		status, closeIt, rb, err := roundTrip(tc, br, req, resp[:0])
		resp = rb
		if err != nil {
			// the request may or may not have been stored: counted apart (all_errors)
			tc.Close()
			tc = nil
			w.fail(measured, err)
			continue
		}
		if status == 200 {
			w.all200++
			if bytes.Contains(rb, []byte(`"duplicate":true`)) {
				w.dup++
			}
		} else {
			w.allOther++
		}
		if measured {
			w.lat = append(w.lat, time.Since(start))
			w.statuses[status]++
			if status >= 200 && status < 300 {
				w.ok++
			} else {
				w.non2xx++
			}
		}
		if closeIt || !*flKA {
			// with -resume, crypto/tls has already taken the server's NewSessionTicket: it
			// arrives before the answer
			tc.Close()
			tc = nil
		}
	}
	if tc != nil {
		tc.Close()
	}
}

func (w *worker) fail(measured bool, err error) {
	w.allErrs++
	if measured {
		w.errs++
	}
	w.lastErr = err.Error()
}

// roundTrip writes one request and reads one answer: status line, headers, a Content-Length body (kept
// in rb) or a chunked one (discarded). Returns the status and whether the server closes the connection.
func roundTrip(c *tls.Conn, br *bufio.Reader, req, rb []byte) (int, bool, []byte, error) {
	if _, err := c.Write(req); err != nil {
		return 0, true, rb, err
	}
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, true, rb, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, true, rb, errors.New("bad status line")
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, true, rb, err
	}
	clen, chunked, closeIt := int64(0), false, line[7] == '0'
	for {
		h, err := br.ReadSlice('\n')
		if err != nil {
			return 0, true, rb, err
		}
		if len(h) <= 2 {
			break
		}
		k, v, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("content-length")):
			clen, _ = strconv.ParseInt(string(v), 10, 64)
		case bytes.EqualFold(k, []byte("transfer-encoding")):
			chunked = bytes.Contains(bytes.ToLower(v), []byte("chunked"))
		case bytes.EqualFold(k, []byte("connection")):
			closeIt = bytes.EqualFold(v, []byte("close"))
		}
	}
	switch {
	case status == 204 || status == 304 || status/100 == 1:
	case chunked:
		for {
			l, err := br.ReadSlice('\n')
			if err != nil {
				return 0, true, rb, err
			}
			n, err := strconv.ParseInt(strings.TrimSpace(strings.SplitN(string(l), ";", 2)[0]), 16, 64)
			if err != nil {
				return 0, true, rb, err
			}
			if _, err := br.Discard(int(n) + 2); err != nil {
				return 0, true, rb, err
			}
			if n == 0 {
				break
			}
		}
	case clen > 0:
		if clen > 1<<20 {
			return 0, true, rb, errors.New("answer too long")
		}
		start := len(rb)
		for int64(len(rb)-start) < clen {
			b, err := br.ReadByte()
			if err != nil {
				return 0, true, rb, err
			}
			rb = append(rb, b)
		}
	}
	return status, closeIt, rb, nil
}

type cpuGroup struct {
	name string
	pid  int
	tree bool
}

func parseCPU() []cpuGroup {
	var gs []cpuGroup
	for _, s := range flCPU {
		name, v, ok := strings.Cut(s, "=")
		if !ok {
			die(fmt.Errorf("-cpu %q: want NAME=PID or NAME=tree:PID", s))
		}
		g := cpuGroup{name: name}
		if strings.HasPrefix(v, "tree:") {
			g.tree, v = true, v[5:]
		}
		pid, err := strconv.Atoi(v)
		die(err)
		if _, _, _, ok := procStat(pid); !ok {
			die(fmt.Errorf("-cpu %s: no process %d", name, pid))
		}
		g.pid = pid
		gs = append(gs, g)
	}
	return gs
}

type cpuSnap struct {
	groups             []float64 // seconds
	self               float64
	busy, total, steal float64 // jiffies, whole machine
}

func snapCPU(gs []cpuGroup) cpuSnap {
	var s cpuSnap
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	s.self = tv(ru.Utime) + tv(ru.Stime)
	var kids map[int][]int
	for _, g := range gs {
		if g.tree && kids == nil {
			kids = childMap()
		}
		var t float64
		if g.tree {
			t = treeCPU(g.pid, kids, map[int]bool{})
		} else {
			_, own, _, _ := procStat(g.pid)
			t = own
		}
		s.groups = append(s.groups, t)
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])[1:]
		for i, x := range f {
			if i >= 8 { // guest time is already in user
				break
			}
			v, _ := strconv.ParseFloat(x, 64)
			s.total += v
			switch i {
			case 3, 4: // idle, iowait
			case 7:
				s.steal += v
			default:
				s.busy += v
			}
		}
	}
	return s
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// procStat: ppid, utime+stime, cutime+cstime (seconds; USER_HZ is 100 on Linux).
func procStat(pid int) (int, float64, float64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, 0, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // f[1] ppid, f[11..14] utime stime cutime cstime
	num := func(i int) float64 { v, _ := strconv.ParseFloat(f[i], 64); return v / 100 }
	ppid, _ := strconv.Atoi(f[1])
	return ppid, num(11) + num(12), num(13) + num(14), true
}

func childMap() map[int][]int {
	m := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			if ppid, _, _, ok := procStat(pid); ok {
				m[ppid] = append(m[ppid], pid)
			}
		}
	}
	return m
}

func treeCPU(pid int, kids map[int][]int, seen map[int]bool) float64 {
	if seen[pid] {
		return 0
	}
	seen[pid] = true
	_, own, reaped, ok := procStat(pid)
	if !ok {
		return 0
	}
	t := own + reaped
	for _, k := range kids[pid] {
		t += treeCPU(k, kids, seen)
	}
	return t
}

func report(ws []*worker, elapsed time.Duration, gs []cpuGroup, c0, c1 cpuSnap) {
	var all []time.Duration
	var ok, non2xx, errs, all200, allOther, allErrs, dup, fullHS, resumedHS int64
	statuses := map[int]int64{}
	lastErr := ""
	for _, w := range ws {
		all = append(all, w.lat...)
		ok, non2xx, errs = ok+w.ok, non2xx+w.non2xx, errs+w.errs
		all200, allOther, allErrs, dup = all200+w.all200, allOther+w.allOther, allErrs+w.allErrs, dup+w.dup
		fullHS, resumedHS = fullHS+w.fullHS, resumedHS+w.resumedHS
		for k, v := range w.statuses {
			statuses[k] += v
		}
		if w.lastErr != "" {
			lastErr = w.lastErr
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) string {
		if len(all) == 0 {
			return "0"
		}
		i := int(p/100*float64(len(all))+0.5) - 1 // nearest rank
		if i < 0 {
			i = 0
		}
		if i >= len(all) {
			i = len(all) - 1
		}
		return strconv.FormatFloat(float64(all[i].Microseconds())/1000, 'f', 3, 64)
	}
	secs := elapsed.Seconds()
	n := float64(len(all))
	per := func(sec float64) string {
		if n == 0 {
			return "0"
		}
		return strconv.FormatFloat(1e6*sec/n, 'f', 1, 64)
	}
	pc := func(sec float64) string { return strconv.FormatFloat(100*sec/secs, 'f', 1, 64) }
	kv := []string{
		"label=" + *flLabel, "mode=" + mode(), "c=" + strconv.Itoa(*flC),
		fmt.Sprintf("requests=%d", len(all)), fmt.Sprintf("ok=%d", ok), fmt.Sprintf("non2xx=%d", non2xx),
		fmt.Sprintf("errors=%d", errs), "secs=" + strconv.FormatFloat(secs, 'f', 3, 64),
		"rps=" + strconv.FormatFloat(n/secs, 'f', 1, 64),
		"p50_ms=" + pct(50), "p99_ms=" + pct(99), "p999_ms=" + pct(99.9), "max_ms=" + pct(100),
		fmt.Sprintf("full_hs=%d", fullHS), fmt.Sprintf("resumed_hs=%d", resumedHS),
	}
	var groupsSec float64
	for i, g := range gs {
		d := c1.groups[i] - c0.groups[i]
		groupsSec += d
		kv = append(kv, g.name+"_us="+per(d), g.name+"_pct="+pc(d))
	}
	self := c1.self - c0.self
	jiffies := c1.total - c0.total
	if jiffies <= 0 {
		jiffies = 1
	}
	cores := float64(runtime.NumCPU())
	busy := 100 * cores * (c1.busy - c0.busy) / jiffies
	kv = append(kv, "client_us="+per(self), "client_pct="+pc(self),
		"busy_pct="+strconv.FormatFloat(busy, 'f', 1, 64),
		"steal_pct="+strconv.FormatFloat(100*cores*(c1.steal-c0.steal)/jiffies, 'f', 1, 64),
		"other_pct="+strconv.FormatFloat(busy-100*(self+groupsSec)/secs, 'f', 1, 64),
		fmt.Sprintf("all_200=%d", all200), fmt.Sprintf("all_other=%d", allOther),
		fmt.Sprintf("all_errors=%d", allErrs), fmt.Sprintf("duplicates=%d", dup))
	if len(statuses) > 0 {
		var ss []string
		for k, v := range statuses {
			ss = append(ss, fmt.Sprintf("%d:%d", k, v))
		}
		sort.Strings(ss)
		kv = append(kv, "status="+strings.Join(ss, ","))
	}
	if lastErr != "" {
		kv = append(kv, "last_error="+strconv.Quote(lastErr))
	}
	fmt.Println(strings.Join(kv, " "))
}

func mode() string {
	switch {
	case *flKA:
		return "keepalive"
	case *flResume:
		return "newconn-resumed"
	}
	return "newconn-full"
}

func die(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
}
