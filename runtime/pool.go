package runtime

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ollama/ollama/api"
)

// DefaultHost is the Ollama address used when neither --ollama nor OLLAMA_HOST says otherwise.
const DefaultHost = "127.0.0.1:11434"

// ParseHosts turns host specs ("127.0.0.1:11434", "http://h:1234", comma-separated lists,
// repeated entries) into normalized base URLs, dropping duplicates and keeping order. With no
// spec it uses $OLLAMA_HOST, else DefaultHost. A host without scheme gets http://, one without
// port gets 11434, following Ollama's own envconfig.Host rules.
func ParseHosts(specs []string) ([]string, error) {
	var parts []string
	for _, s := range specs {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
	}
	if len(parts) == 0 {
		env := strings.TrimSpace(os.Getenv("OLLAMA_HOST"))
		if env == "" {
			env = DefaultHost
		}
		parts = []string{env}
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range parts {
		u, err := normalizeHost(p)
		if err != nil {
			return nil, err
		}
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out, nil
}

func normalizeHost(s string) (string, error) {
	scheme, hostport, ok := strings.Cut(s, "://")
	defaultPort := "11434"
	switch {
	case !ok:
		scheme, hostport = "http", s
	case scheme == "http":
		defaultPort = "80"
	case scheme == "https":
		defaultPort = "443"
	default:
		return "", fmt.Errorf("runtime: host %q: scheme must be http or https", s)
	}
	hostport, path, _ := strings.Cut(hostport, "/")
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = strings.Trim(hostport, "[]"), defaultPort
	}
	if host == "" || host == "0.0.0.0" {
		host = "127.0.0.1"
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return "", fmt.Errorf("runtime: host %q: bad port %q", s, port)
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port), Path: path}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// PoolOptions configure a Pool. Zero values take the documented defaults.
type PoolOptions struct {
	// PerHost is the number of requests in flight per host. 0 means $OLLAMA_NUM_PARALLEL when
	// set, else 4 (the value scripts/ollama.sh starts servers with; Ollama v0.17.4's own default
	// is 1, and extra requests then simply queue on the server).
	PerHost int
	// RequestTimeout bounds one attempt of one request. 0 means 5 minutes.
	RequestTimeout time.Duration
	// MaxAttempts bounds the tries of one request, the first included. 0 means 5.
	MaxAttempts int
	// BackoffBase and BackoffMax shape the exponential backoff between attempts (full jitter:
	// a uniform wait in [d/2, d] with d = min(BackoffMax, BackoffBase·2^(attempt−1))).
	// 0 means 250ms and 8s.
	BackoffBase, BackoffMax time.Duration
	// Cooldown is how long a host that failed at the connection level (refused, reset, timed
	// out) is taken out of rotation; it doubles with consecutive failures up to 8×. 0 means 2s.
	Cooldown time.Duration
	// HTTPClient, when set, replaces the pool's own client (one keep-alive transport shared by
	// every host).
	HTTPClient *http.Client
	// Logf, when set, receives one line per retry and per host taken out or back.
	Logf func(format string, args ...any)
}

func (o PoolOptions) withDefaults() PoolOptions {
	if o.PerHost <= 0 {
		o.PerHost = 4
		if n, err := strconv.Atoi(strings.TrimSpace(os.Getenv("OLLAMA_NUM_PARALLEL"))); err == nil && n > 0 {
			o.PerHost = n
		}
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 5 * time.Minute
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = 250 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 8 * time.Second
	}
	if o.Cooldown <= 0 {
		o.Cooldown = 2 * time.Second
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	return o
}

// Pool sends requests to one or more Ollama hosts. Each request goes to the healthy host with
// the fewest requests in flight (least outstanding work), at most PerHost at a time per host.
// A host that fails at the connection level is taken out for a cooldown and tried again
// afterwards. Requests are retried with backoff on transient errors. A Pool is safe for
// concurrent use.
type Pool struct {
	opt   PoolOptions
	http  *http.Client
	hosts []*poolHost

	mu   sync.Mutex
	next int           // rotating tie-break among equally loaded hosts
	wake chan struct{} // closed and replaced whenever a slot frees or a host comes back
}

type poolHost struct {
	url         string
	client      *api.Client
	http        *http.Client
	base        *url.URL
	outstanding int
	downUntil   time.Time
	fails       int // consecutive connection-level failures
	served      int64
}

// NewPool makes a pool over hosts, which ParseHosts normalizes (nil or empty means
// $OLLAMA_HOST). It does not contact the servers; call Check or Require for that.
func NewPool(hosts []string, opt PoolOptions) (*Pool, error) {
	norm, err := ParseHosts(hosts)
	if err != nil {
		return nil, err
	}
	opt = opt.withDefaults()
	hc := opt.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 2 * opt.PerHost
		tr.MaxIdleConns = 2 * opt.PerHost * len(norm)
		hc = &http.Client{Transport: tr}
	}
	p := &Pool{opt: opt, http: hc, wake: make(chan struct{})}
	for _, h := range norm {
		u, err := url.Parse(h)
		if err != nil {
			return nil, fmt.Errorf("runtime: host %q: %w", h, err)
		}
		p.hosts = append(p.hosts, &poolHost{url: h, base: u, client: api.NewClient(u, hc), http: hc})
	}
	return p, nil
}

// Hosts returns the pool's hosts as base URLs.
func (p *Pool) Hosts() []string {
	out := make([]string, len(p.hosts))
	for i, h := range p.hosts {
		out[i] = h.url
	}
	return out
}

// Capacity is the number of requests the pool runs at once: hosts × PerHost.
func (p *Pool) Capacity() int { return len(p.hosts) * p.opt.PerHost }

// Options returns the pool's options with defaults filled in.
func (p *Pool) Options() PoolOptions { return p.opt }

// Served returns how many successful requests each host answered, in Hosts order.
func (p *Pool) Served() []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]int64, len(p.hosts))
	for i, h := range p.hosts {
		out[i] = h.served
	}
	return out
}

// acquire waits for a free slot on a healthy host and takes it.
func (p *Pool) acquire(ctx context.Context) (*poolHost, error) {
	for {
		p.mu.Lock()
		now := time.Now()
		var best *poolHost
		var earliest time.Time
		n := len(p.hosts)
		for i := range n {
			h := p.hosts[(p.next+i)%n]
			if h.downUntil.After(now) {
				if earliest.IsZero() || h.downUntil.Before(earliest) {
					earliest = h.downUntil
				}
				continue
			}
			if h.outstanding >= p.opt.PerHost {
				continue
			}
			if best == nil || h.outstanding < best.outstanding {
				best = h
			}
		}
		if best != nil {
			best.outstanding++
			p.next = (p.next + 1) % n
			p.mu.Unlock()
			return best, nil
		}
		wake := p.wake
		p.mu.Unlock()
		var timer *time.Timer
		var tc <-chan time.Time
		if !earliest.IsZero() {
			timer = time.NewTimer(time.Until(earliest))
			tc = timer.C
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return nil, ctx.Err()
		case <-wake:
		case <-tc:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// release frees h's slot and records the outcome: hostDown takes the host out for a cooldown.
func (p *Pool) release(h *poolHost, ok, hostDown bool) {
	p.mu.Lock()
	h.outstanding--
	switch {
	case ok:
		h.served++
		if h.fails > 0 {
			p.opt.Logf("runtime: %s is answering again", h.url)
		}
		h.fails = 0
	case hostDown:
		h.fails++
		d := p.opt.Cooldown << min(h.fails-1, 3)
		h.downUntil = time.Now().Add(d)
		p.opt.Logf("runtime: %s taken out for %s", h.url, d)
	}
	close(p.wake)
	p.wake = make(chan struct{})
	p.mu.Unlock()
}

// do runs fn on a host of the pool with retries. what names the request in errors.
func (p *Pool) do(ctx context.Context, what string, fn func(ctx context.Context, h *poolHost) error) (host string, attempts int, err error) {
	var last error
	for attempt := 1; attempt <= p.opt.MaxAttempts; attempt++ {
		h, err := p.acquire(ctx)
		if err != nil {
			if last != nil {
				return "", attempt - 1, fmt.Errorf("%s: %w (after: %v)", what, err, last)
			}
			return "", attempt - 1, fmt.Errorf("%s: %w", what, err)
		}
		actx, cancel := context.WithTimeout(ctx, p.opt.RequestTimeout)
		err = fn(actx, h)
		timedOut := err != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded)
		cancel()
		if err == nil {
			p.release(h, true, false)
			return h.url, attempt, nil
		}
		if ctx.Err() != nil {
			p.release(h, false, false)
			return h.url, attempt, fmt.Errorf("%s on %s: %w", what, h.url, ctx.Err())
		}
		if timedOut {
			err = fmt.Errorf("%w after %s: %v", ErrTimeout, p.opt.RequestTimeout, err)
		}
		class := classify(err)
		p.release(h, false, class == hostFailure)
		err = fmt.Errorf("%s on %s: %w", what, h.url, err)
		if class == permanent {
			return h.url, attempt, err
		}
		last = err
		if attempt == p.opt.MaxAttempts {
			break
		}
		d := p.backoff(attempt)
		p.opt.Logf("runtime: attempt %d/%d failed (%v); retrying in %s", attempt, p.opt.MaxAttempts, err, d.Round(time.Millisecond))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return h.url, attempt, fmt.Errorf("%s: %w (after: %v)", what, ctx.Err(), last)
		case <-t.C:
		}
	}
	return "", p.opt.MaxAttempts, fmt.Errorf("%w: %d attempts: %w", ErrGaveUp, p.opt.MaxAttempts, last)
}

// backoff is the wait after the attempt-th failure: exponential, capped, with jitter in [d/2, d].
func (p *Pool) backoff(attempt int) time.Duration {
	d := p.opt.BackoffBase << min(attempt-1, 20)
	if d > p.opt.BackoffMax || d <= 0 {
		d = p.opt.BackoffMax
	}
	return d/2 + rand.N(d/2+1)
}
