package keyspace

// SetTestHook installs a function called before each operation (tests use
// it to inject panics).
func SetTestHook(c *Config, f func(Ref, any)) { c.testHook = f }
