package sluice

import "errors"

// ErrAlreadyRunning is returned by Run when it is called a second time.
var ErrAlreadyRunning = errors.New("already running")

// ErrClosed is returned by operations on a component that has stopped.
var ErrClosed = errors.New("closed")

// ErrUndelivered is wrapped by the error a [Runner] returns when it
// stopped holding messages it had accepted and did not deliver: a
// batching destination that could not flush them in time, or that was
// stopped before it could start. Their acks were not called, so a durable
// source delivers them again; the error's text says how many there were.
// It is a report on an incomplete stop, not a failure of the component.
var ErrUndelivered = errors.New("messages not delivered")

// StageError is the error Run returns when a stage fails. Stage is
// [StageSource], [StageHandler] or [StageDestination].
type StageError struct {
	Stage string
	Err   error
}

// The stages a [StageError] names.
const (
	StageSource      = "source"
	StageHandler     = "handler"
	StageDestination = "destination"
)

func (e *StageError) Error() string { return e.Stage + ": " + e.Err.Error() }

// Unwrap returns the stage's error.
func (e *StageError) Unwrap() error { return e.Err }

// Retryable marks err as transient: a wrapper such as a batcher may try
// the operation again after a back-off. Retryable(nil) is nil.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return &retryableError{err}
}

// IsRetryable reports whether err, or any error it wraps, was marked with
// [Retryable] or has a method Retryable() bool that returns true.
func IsRetryable(err error) bool {
	var r interface{ Retryable() bool }
	return errors.As(err, &r) && r.Retryable()
}

type retryableError struct{ err error }

func (e *retryableError) Error() string   { return e.err.Error() }
func (e *retryableError) Unwrap() error   { return e.err }
func (e *retryableError) Retryable() bool { return true }

func stageErr(stage string, err error) error { return &StageError{Stage: stage, Err: err} }
