package tlsutil

// ExpireRecheck makes the next use of d stat its bundle file.
func ExpireRecheck(d *Denylist) { d.next.Store(0) }
