package wasm

import "context"

// Instantiate starts and closes one more instance of h, for benchmarks.
func Instantiate(ctx context.Context, h *Handler) error {
	in, err := h.instantiate(ctx)
	if err != nil {
		return err
	}
	return in.mod.Close(ctx)
}

// WazeroChecks makes New bound calls with wazero's checks instead of
// instrumenting the module, until the returned func is called.
func WazeroChecks() (restore func()) {
	wazeroChecks = true
	return func() { wazeroChecks = false }
}
