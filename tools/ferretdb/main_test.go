package main

import (
	"net/url"
	"testing"
)

func TestSQLiteCommitsWithoutWaitingForFsyncUnlessTheURLSaysOtherwise(t *testing.T) {
	for given, want := range map[string]string{
		"file:/data/ferretdb/":                   "file:/data/ferretdb/?_pragma=synchronous%28normal%29",
		"file:data/":                             "file:data/?_pragma=synchronous%28normal%29",
		"file:/data/?_pragma=synchronous(full)":  "file:/data/?_pragma=synchronous(full)",
		"file:/data/?_pragma=busy_timeout(5000)": "file:/data/?_pragma=busy_timeout%285000%29&_pragma=synchronous%28normal%29",
	} {
		u, err := url.Parse(given)
		if err != nil {
			t.Fatal(err)
		}
		if got := withSynchronousNormal(u); got != want {
			t.Errorf("withSynchronousNormal(%q) = %q, want %q", given, got, want)
		}
	}
}
