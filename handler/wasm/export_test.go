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
