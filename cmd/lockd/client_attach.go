package main

import (
	"fmt"
	"io"
	"os"

	"github.com/lockdhq/lockd/sdk"
	"github.com/lockdhq/lockd/sdk/api"
)

func runAttachments(cl *cli, args []string) error {
	return runSub(cl, "attachments", map[string]func(*cli, []string) error{
		"put": runAttachPut, "list": runAttachList, "get": runAttachGet,
		"delete": runAttachDelete, "delete-all": runAttachDeleteAll,
	}, args)
}

func runAttachPut(cl *cli, args []string) error {
	fs := cl.flagSet("attachments put")
	l := addLeaseFlags(fs)
	name := fs.String("name", "", "attachment name (required)")
	file := fs.StringP("file", "f", "", "file to upload (- for stdin; required)")
	ctype := fs.String("content-type", "", "content type (default application/octet-stream)")
	prevent := fs.Bool("prevent-overwrite", false, "keep an existing attachment of that name")
	maxBytes := fs.Int64("max-bytes", 0, "refuse uploads larger than this")
	if err := cl.parse(fs, "lockd client attachments put --name NAME --file FILE|- [flags]", args, leaseEnv()); err != nil {
		return err
	}
	if *name == "" || *file == "" {
		return fmt.Errorf("--name and --file are required")
	}
	sess, err := cl.session(l)
	if err != nil {
		return err
	}
	in, err := cl.openInput(*file)
	if err != nil {
		return err
	}
	defer in.Close()
	req := sdk.AttachRequest{Name: *name, ContentType: *ctype, Body: in, MaxBytes: *maxBytes, PreventOverwrite: *prevent}
	if f, ok := in.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			req.Size = st.Size()
		}
	}
	res, err := sess.Attach(cl.context(), req)
	if err != nil {
		return err
	}
	cl.afterDrain(sess)
	return writeJSON(cl.stdout, res)
}

func runAttachList(cl *cli, args []string) error {
	fs := cl.flagSet("attachments list")
	l := addLeaseFlags(fs)
	public := fs.Bool("public", false, "list the committed attachments without a lease")
	output := fs.String("output", "json", "output: json or text (name, size, id per line)")
	if err := cl.parse(fs, "lockd client attachments list [--public] [flags]", args, leaseEnv()); err != nil {
		return err
	}
	mode, err := outputMode(*output)
	if err != nil {
		return err
	}
	if err := required(l.key, "key", envKey); err != nil {
		return err
	}
	c, err := cl.client()
	if err != nil {
		return err
	}
	var list []api.AttachmentInfo
	var sess *sdk.LeaseSession
	if *public {
		list, err = c.ListAttachments(cl.context(), l.key, sdk.WithNamespace(l.namespace))
	} else if sess, err = cl.session(l); err == nil {
		list, err = sess.ListAttachments(cl.context())
	}
	if err != nil {
		return err
	}
	if sess != nil {
		cl.afterDrain(sess)
	}
	return cl.printAttachments(mode, l, list)
}

func (cl *cli) printAttachments(mode string, l *leaseFlags, list []api.AttachmentInfo) error {
	if mode == "json" {
		if list == nil {
			list = []api.AttachmentInfo{}
		}
		return writeJSON(cl.stdout, map[string]any{"namespace": l.namespace, "key": l.key, "attachments": list})
	}
	for _, a := range list {
		fmt.Fprintf(cl.stdout, "%s\t%d\t%s\n", a.Name, a.Size, a.ID)
	}
	return nil
}

func runAttachGet(cl *cli, args []string) error {
	fs := cl.flagSet("attachments get")
	l := addLeaseFlags(fs)
	public := fs.Bool("public", false, "read a committed attachment without a lease")
	name := fs.String("name", "", "attachment name")
	id := fs.String("id", "", "attachment id")
	out := fs.StringP("output", "o", "-", "write it to FILE (- for stdout)")
	if err := cl.parse(fs, "lockd client attachments get --name NAME|--id ID [-o FILE|-] [flags]", args, leaseEnv()); err != nil {
		return err
	}
	if *name == "" && *id == "" {
		return fmt.Errorf("--name or --id is required")
	}
	if err := required(l.key, "key", envKey); err != nil {
		return err
	}
	sel := sdk.AttachmentSelector{Name: *name, ID: *id}
	var a *sdk.Attachment
	var sess *sdk.LeaseSession
	var err error
	if *public {
		var c *sdk.Client
		if c, err = cl.client(); err == nil {
			a, err = c.RetrieveAttachment(cl.context(), l.key, sel, sdk.WithNamespace(l.namespace))
		}
	} else if sess, err = cl.session(l); err == nil {
		a, err = sess.RetrieveAttachment(cl.context(), sel)
	}
	if err != nil {
		return err
	}
	defer a.Close()
	w, err := cl.openOutput(*out)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, a)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil && sess != nil {
		a.Close()
		cl.afterDrain(sess)
	}
	return err
}

func runAttachDelete(cl *cli, args []string) error {
	fs := cl.flagSet("attachments delete")
	l := addLeaseFlags(fs)
	name := fs.String("name", "", "attachment name")
	id := fs.String("id", "", "attachment id")
	if err := cl.parse(fs, "lockd client attachments delete --name NAME|--id ID [flags]", args, leaseEnv()); err != nil {
		return err
	}
	if *name == "" && *id == "" {
		return fmt.Errorf("--name or --id is required")
	}
	sess, err := cl.session(l)
	if err != nil {
		return err
	}
	res, err := sess.DeleteAttachment(cl.context(), sdk.AttachmentSelector{Name: *name, ID: *id})
	if err != nil {
		return err
	}
	cl.afterDrain(sess)
	return writeJSON(cl.stdout, res)
}

func runAttachDeleteAll(cl *cli, args []string) error {
	fs := cl.flagSet("attachments delete-all")
	l := addLeaseFlags(fs)
	if err := cl.parse(fs, "lockd client attachments delete-all [flags]", args, leaseEnv()); err != nil {
		return err
	}
	sess, err := cl.session(l)
	if err != nil {
		return err
	}
	res, err := sess.DeleteAllAttachments(cl.context())
	if err != nil {
		return err
	}
	cl.afterDrain(sess)
	return writeJSON(cl.stdout, res)
}
