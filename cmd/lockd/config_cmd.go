package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/lockdhq/lockd/internal/tlsutil"
)

const configUsage = `usage: lockd config gen [--stdout | --out FILE] [--force]
       lockd config show [server flags]

gen writes a commented YAML template of every server flag with its default
to $HOME/.lockd/config.yaml (or --out FILE, or stdout), refusing to replace
an existing file without --force.

show prints the settings the server would run with, given the same flags,
LOCKD_* variables and config file, each with where its value came from,
and exits without serving. The output is itself a valid config file.
`

// runConfig runs "lockd config ARGS".
func runConfig(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprint(stdout, configUsage)
		return nil
	}
	switch args[0] {
	case "gen":
		return configGen(args[1:], stdout)
	case "show":
		return configShow(args[1:], stdout, stderr)
	}
	return usageError{fmt.Errorf("config: unknown command %q (want gen or show; see lockd config help)", args[0])}
}

func configGen(args []string, stdout io.Writer) error {
	fs := pflag.NewFlagSet("lockd config gen", pflag.ContinueOnError)
	fs.SetOutput(stdout)
	toStdout := fs.Bool("stdout", false, "print the template instead of writing a file")
	out := fs.String("out", "", "file to write (default $HOME/.lockd/config.yaml)")
	force := fs.Bool("force", false, "replace an existing file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return usageError{fmt.Errorf("config gen: %w", err)}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("config gen: unexpected argument %q", fs.Arg(0))}
	}
	if *toStdout && *out != "" {
		return usageError{errors.New("config gen: --stdout and --out exclude each other")}
	}
	sfs, _ := serverFlags()
	data, err := configTemplate(sfs)
	if err != nil {
		return err
	}
	if *toStdout {
		_, err := stdout.Write(data)
		return err
	}
	path := expandHome(*out)
	if path == "" {
		dir, err := tlsutil.DefaultDir()
		if err != nil {
			return err
		}
		path = filepath.Join(dir, tlsutil.ConfigFile)
	}
	if err := tlsutil.WriteFile(path, data, *force); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("config gen: %s exists (--force replaces it)", path)
		}
		return fmt.Errorf("config gen: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s\n", path)
	return nil
}

// configTemplate renders every visible server flag but --config with its
// default and its help text as a comment. It is built from the flag set
// itself, so it lists exactly the flags this binary has.
func configTemplate(fs *pflag.FlagSet) ([]byte, error) {
	doc := &yaml.Node{Kind: yaml.MappingNode}
	eachVisible(fs, func(f *pflag.Flag) {
		key := &yaml.Node{Kind: yaml.ScalarNode, Value: f.Name, HeadComment: wrap(f.Usage, 76)}
		doc.Content = append(doc.Content, key, valueNode(f))
	})
	return encodeYAML(templateHeader, doc)
}

const templateHeader = `# lockd server configuration, written by "lockd config gen".
# Keys are the server's flag names and every value below is its default.
# A flag on the command line beats its LOCKD_* variable, which beats this
# file, which beats the default. lockd reads $HOME/.lockd/config.yaml
# when it exists, or the file -c/--config (or LOCKD_CONFIG) names.
# Unknown keys are reported and ignored, so a lockd v0.9 file works too.
`

func configShow(args []string, stdout, stderr io.Writer) error {
	s, err := loadSettings(args, stdout)
	if errors.Is(err, errHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: stderr, NoColor: true, PartsExclude: []string{zerolog.TimestampFieldName}})
	s.report(log)
	from := s.config
	if from == "" {
		from = "none"
	}
	doc := &yaml.Node{Kind: yaml.MappingNode}
	eachVisible(s.fs, func(f *pflag.Flag) {
		v := valueNode(f)
		v.LineComment = s.source(f.Name)
		doc.Content = append(doc.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: f.Name}, v)
	})
	data, err := encodeYAML("# settings in effect; config file: "+from+"\n", doc)
	if err != nil {
		return err
	}
	_, err = stdout.Write(data)
	return err
}

// eachVisible calls fn for every flag a config file would set, in the
// order the flags are defined: all but hidden (inert) flags and --config.
func eachVisible(fs *pflag.FlagSet, fn func(*pflag.Flag)) {
	sorted := fs.SortFlags
	fs.SortFlags = false
	defer func() { fs.SortFlags = sorted }()
	fs.VisitAll(func(f *pflag.Flag) {
		if !f.Hidden && f.Name != "config" {
			fn(f)
		}
	})
}

// valueNode renders a flag's value so that parsing it back sets the same
// value: lists as YAML sequences, everything else as the flag prints it.
func valueNode(f *pflag.Flag) *yaml.Node {
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, it := range sv.GetSlice() {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: it})
		}
		return n
	}
	tag := "!!str"
	switch f.Value.Type() {
	case "bool":
		tag = "!!bool"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		tag = "!!int"
	case "float32", "float64":
		tag = "!!float"
	}
	v := f.Value.String()
	if f.Value.Type() == "duration" {
		v = shortDuration(v)
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v}
}

// shortDuration drops the zero minutes and seconds Go's Duration.String
// writes: 1h0m0s becomes 1h, 30m0s 30m.
func shortDuration(v string) string {
	if strings.HasSuffix(v, "m0s") {
		v = strings.TrimSuffix(v, "0s")
	}
	if strings.HasSuffix(v, "h0m") {
		v = strings.TrimSuffix(v, "0m")
	}
	return v
}

// encodeYAML writes header, a blank line and the document.
func encodeYAML(header string, doc *yaml.Node) ([]byte, error) {
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("config: encode: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: encode: %w", err)
	}
	// A blank line before each commented entry, for the reader.
	var out strings.Builder
	out.WriteString(header + "\n")
	prevComment := true
	for _, line := range strings.SplitAfter(b.String(), "\n") {
		comment := strings.HasPrefix(line, "#")
		if comment && !prevComment {
			out.WriteString("\n")
		}
		prevComment = comment
		out.WriteString(line)
	}
	return []byte(out.String()), nil
}

// wrap breaks text into lines of at most width bytes at spaces.
func wrap(text string, width int) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return strings.Join(append(lines, line), "\n")
}
