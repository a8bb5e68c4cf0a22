package testutil

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// Record is one logged line.
type Record struct {
	Level   slog.Level
	Message string
	Attrs   map[string]any // attribute values as slog.Value.Any returns them
}

// Logs records what a *slog.Logger writes, at every level.
type Logs struct {
	mu      sync.Mutex
	records []Record
}

// NewLogs returns a logger and the recorder behind it.
func NewLogs() (*slog.Logger, *Logs) {
	l := &Logs{}
	return slog.New(&recorder{logs: l}), l
}

// All returns the records so far, oldest first.
func (l *Logs) All() []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Record(nil), l.records...)
}

// Containing returns the records whose message contains s.
func (l *Logs) Containing(s string) []Record {
	return l.filter(func(r Record) bool { return strings.Contains(r.Message, s) })
}

// Message returns the records whose message is msg, at any level when
// levels is empty, else at one of levels.
func (l *Logs) Message(msg string, levels ...slog.Level) []Record {
	return l.filter(func(r Record) bool {
		if r.Message != msg {
			return false
		}
		if len(levels) == 0 {
			return true
		}
		for _, lv := range levels {
			if r.Level == lv {
				return true
			}
		}
		return false
	})
}

func (l *Logs) filter(keep func(Record) bool) []Record {
	var out []Record
	for _, r := range l.All() {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

type recorder struct {
	logs  *Logs
	attrs []slog.Attr
}

func (*recorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *recorder) Handle(_ context.Context, r slog.Record) error {
	rec := Record{Level: r.Level, Message: r.Message, Attrs: map[string]any{}}
	for _, a := range h.attrs {
		rec.Attrs[a.Key] = a.Value.Resolve().Any()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.Resolve().Any()
		return true
	})
	h.logs.mu.Lock()
	h.logs.records = append(h.logs.records, rec)
	h.logs.mu.Unlock()
	return nil
}

func (h *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &recorder{logs: h.logs, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

// WithGroup is flattened: tests look attributes up by their own key.
func (h *recorder) WithGroup(string) slog.Handler { return h }
