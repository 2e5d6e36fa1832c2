package runtime

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/ollama/ollama/api"
)

var (
	// ErrModelNotFound reports a model that the server does not have. The wrapping error says
	// how to create it.
	ErrModelNotFound = errors.New("model not found on the Ollama server")
	// ErrTimeout reports an attempt that ran past PoolOptions.RequestTimeout.
	ErrTimeout = errors.New("request timed out")
	// ErrTruncated reports a response that ended before the server said it was done.
	ErrTruncated = errors.New("response ended before done")
	// ErrGaveUp reports a request that failed MaxAttempts times on transient errors.
	ErrGaveUp = errors.New("gave up")
)

type errClass int

const (
	permanent   errClass = iota // 4xx, a missing model, a malformed request: retrying cannot help
	hostFailure                 // refused, reset, 5xx, timeouts, truncated answers: retry, maybe elsewhere
)

// classify decides whether err is worth retrying. Everything that is not a client error (4xx,
// authorization) is taken as a transient failure of the host: connection refused or reset,
// 5xx, timeouts, a stream cut before done, garbage in place of JSON.
func classify(err error) errClass {
	if errors.Is(err, ErrModelNotFound) {
		return permanent
	}
	var se api.StatusError
	if errors.As(err, &se) {
		if se.StatusCode >= 400 && se.StatusCode < 500 {
			return permanent
		}
		return hostFailure
	}
	var ae api.AuthorizationError
	if errors.As(err, &ae) {
		return permanent
	}
	return hostFailure
}

// IsRetryable reports whether the pool would retry err (a transient, host-side failure).
func IsRetryable(err error) bool { return classify(err) == hostFailure }

// modelNotFound turns a 404 from the server into ErrModelNotFound with instructions.
func modelNotFound(model string, err error) error {
	var se api.StatusError
	if errors.As(err, &se) && se.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%w: %q (%s); create it with `align export --run DIR --to ollama:%s`, "+
			"`ollama create %s -f Modelfile`, or runtime.Create", ErrModelNotFound, model, se.ErrorMessage, model, model)
	}
	return err
}
