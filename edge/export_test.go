package edge_test

import "github.com/lockdhq/lockd/keyspace"

func refOf(key string) keyspace.Ref { return keyspace.Ref{Namespace: "default", Key: key} }

func keyspaceRef(ns, key string) keyspace.Ref { return keyspace.Ref{Namespace: ns, Key: key} }
