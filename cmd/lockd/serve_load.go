package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"
)

// serverFlags is serveFlagSet plus every v0.9 flag name (flags_v09.go).
// Real server flags belong in serveFlagSet, so they shadow the inert ones.
func serverFlags() (*pflag.FlagSet, *serveFlags) {
	fs, f := serveFlagSet()
	addV09Flags(fs)
	return fs, f
}

// settings is the server's configuration as read from its three sources.
type settings struct {
	fs      *pflag.FlagSet
	f       *serveFlags
	config  string            // the configuration file read; "" for none
	sources map[string]string // flag name -> where its value came from
	notes   []notice
}

// Where a flag's value came from, by precedence.
const (
	fromFlag    = "command line"
	fromEnv     = "environment"
	fromConfig  = "config file"
	fromDefault = "default"
)

// errHelp is returned after --help printed the usage.
var errHelp = errors.New("help requested")

// loadSettings reads the server's settings as `lockd` does before it
// serves: the command line, then the LOCKD_* variables for flags it did
// not give, then the configuration file for flags neither gave. Usage
// mistakes (unknown flags, stray arguments) are usageErrors.
func loadSettings(args []string, usageOut io.Writer) (*settings, error) {
	fs, f := serverFlags()
	fs.SetOutput(usageOut)
	fs.Usage = func() { serveUsage(fs, usageOut) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, errHelp
		}
		return nil, usageError{err}
	}
	if rest := fs.Args(); len(rest) > 0 {
		return nil, usageError{fmt.Errorf("unexpected argument %q: the server takes flags only; commands (client, auth, verify, config) come first", rest[0])}
	}
	s := &settings{fs: fs, f: f, sources: map[string]string{}}
	s.mark(fromFlag)
	if err := applyEnv(fs, "LOCKD_"); err != nil {
		return nil, err
	}
	s.mark(fromEnv)
	if path := configPath(fs, f.sec.config, f.sec.bootstrap); path != "" {
		notes, err := applyConfigFile(fs, path)
		if err != nil {
			return nil, err
		}
		s.config, s.notes = path, notes
		s.mark(fromConfig)
	}
	for _, name := range inertFlags(fs) {
		v := fs.Lookup(name).Value.(*inertValue)
		s.notes = append(s.notes, notice{"flag has no effect: " + v.reason,
			[]string{"flag", name, "source", s.sources[name]}})
	}
	return s, nil
}

// mark records src as the source of every flag set and not yet recorded.
func (s *settings) mark(src string) {
	s.fs.Visit(func(f *pflag.Flag) {
		if _, ok := s.sources[f.Name]; !ok {
			s.sources[f.Name] = src
		}
	})
}

// source returns where the flag's value came from.
func (s *settings) source(name string) string {
	if src, ok := s.sources[name]; ok {
		return src
	}
	return fromDefault
}

// report logs the configuration file read and one warning per notice.
func (s *settings) report(log zerolog.Logger) {
	if s.config != "" {
		log.Info().Str("config", s.config).Msg("configuration file loaded")
	}
	for _, n := range s.notes {
		ev := log.Warn()
		for i := 0; i+1 < len(n.kv); i += 2 {
			ev = ev.Str(n.kv[i], n.kv[i+1])
		}
		ev.Msg(n.msg)
	}
}

// serveUsage prints the server's help: commands, flags, and the v0.9
// flags accepted without effect.
func serveUsage(fs *pflag.FlagSet, out io.Writer) {
	fmt.Fprint(out, `usage: lockd [flags]              run the server
       lockd client COMMAND      talk to a server (lockd client --help)
       lockd auth COMMAND        issue, revoke, inspect and verify bundles
       lockd verify store        check the store's credentials and encryption
       lockd config gen|show     write a config template, show the settings in effect

Settings come from flags, then LOCKD_* variables (--json-max <- LOCKD_JSON_MAX),
then the YAML config file (-c, LOCKD_CONFIG, default $HOME/.lockd/config.yaml),
then defaults.

Flags:
`)
	fs.PrintDefaults()
	if names := inertNames(fs); len(names) > 0 {
		fmt.Fprint(out, "\nAccepted for lockd v0.9 compatibility, without effect in this build (setting one\nlogs why):\n")
		line := " "
		for _, n := range names {
			if len(line)+len(n) > 79 {
				fmt.Fprintln(out, line)
				line = " "
			}
			line += " " + n
		}
		fmt.Fprintln(out, line)
	}
}
