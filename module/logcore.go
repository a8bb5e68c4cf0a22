package module

import (
	"slices"

	"go.uber.org/zap/zapcore"
)

// loggerCore forwards to the logger of the newest config (jwksLogger), so a
// cache that outlives a reload never writes to a closed config's log sink.
type loggerCore struct{ fields []zapcore.Field }

func (c loggerCore) target() zapcore.Core {
	if l := jwksLogger.Load(); l != nil {
		return l.Core()
	}
	return zapcore.NewNopCore()
}

func (c loggerCore) Enabled(l zapcore.Level) bool { return c.target().Enabled(l) }

func (c loggerCore) With(f []zapcore.Field) zapcore.Core {
	return loggerCore{fields: append(slices.Clone(c.fields), f...)}
}

func (c loggerCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c loggerCore) Write(e zapcore.Entry, f []zapcore.Field) error {
	return c.target().With(c.fields).Write(e, f)
}

func (c loggerCore) Sync() error { return c.target().Sync() }
