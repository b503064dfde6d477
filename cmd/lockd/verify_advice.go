package main

import (
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/lockdhq/lockd/server"
)

// advise explains what a store needs when a check failed: for S3 an IAM
// policy for the bucket and prefix lockd uses, for Azure the role or SAS
// permissions, and what conditional writes are for.
func advise(out io.Writer, raw string, o server.StoreOptions, casFailed bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return
	}
	if casFailed {
		fmt.Fprintln(out, "      lockd needs conditional writes (If-Match / If-None-Match on PUT and")
		fmt.Fprintln(out, "      DELETE) for every record it writes: they are what keeps two servers")
		fmt.Fprintln(out, "      from granting the same lease. Use a store that honours them (AWS S3,")
		fmt.Fprintln(out, "      Azure Blob, versitygw, a recent MinIO); gofakes3 and s3rver do not.")
	}
	switch u.Scheme {
	case "s3", "aws":
		bucket, prefix := u.Host, strings.Trim(u.Path, "/")
		if u.Scheme == "s3" {
			bucket, prefix, _ = strings.Cut(strings.Trim(u.Path, "/"), "/")
		}
		fmt.Fprintln(out, "      Suggested IAM policy for the credentials lockd runs with:")
		fmt.Fprint(out, indent(s3Policy(bucket, prefix, o.S3KMSKeyID != "" || o.AWSKMSKeyID != "" || o.S3SSE == "aws:kms"), "      "))
	case "azure":
		fmt.Fprintln(out, "      The account key, or a SAS token with read, add, create, write,")
		fmt.Fprintln(out, "      delete and list permissions on the container (sp=racwdl), or the")
		fmt.Fprintln(out, "      \"Storage Blob Data Contributor\" role on it, lets lockd work.")
	}
}

// s3Policy is the least-privilege policy lockd needs on bucket/prefix.
func s3Policy(bucket, prefix string, kms bool) string {
	objects := "arn:aws:s3:::" + bucket + "/*"
	list := `"Resource": "arn:aws:s3:::` + bucket + `"`
	if prefix != "" {
		objects = "arn:aws:s3:::" + bucket + "/" + prefix + "/*"
		list += `,
      "Condition": {"StringLike": {"s3:prefix": ["` + prefix + `/*"]}}`
	}
	policy := `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["s3:ListBucket"],
      ` + list + `
    },
    {
      "Effect": "Allow",
      "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                 "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
      "Resource": "` + objects + `"
    }`
	if kms {
		policy += `,
    {
      "Effect": "Allow",
      "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
      "Resource": "<the KMS key ARN>"
    }`
	}
	return policy + `
  ]
}
`
}

func indent(s, pad string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = pad + l
	}
	return strings.Join(lines, "\n") + "\n"
}
