package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newDatabase creates a database file laid out as FerretDB's SQLite backend lays one out.
func newDatabase(t *testing.T, dir, name string, tables ...string) string {
	t.Helper()
	file := filepath.Join(dir, name+".sqlite")
	db, err := sql.Open("sqlite", "file:"+file)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	statements := []string{
		`PRAGMA journal_mode = wal`,
		`CREATE TABLE _ferretdb_collections (name TEXT, table_name TEXT, settings TEXT)`,
	}
	for _, table := range tables {
		statements = append(statements,
			`INSERT INTO _ferretdb_collections VALUES ('c', '`+table+`', '{}')`,
			`CREATE TABLE "`+table+`" (_ferretdb_sjson TEXT NOT NULL)`,
			`CREATE UNIQUE INDEX "`+table+`__id_" ON "`+table+`" (_ferretdb_sjson->"_id")`,
			`INSERT INTO "`+table+`" VALUES ('{"_id": "t-1"}')`,
		)
	}
	for _, statement := range statements {
		if _, err := db.Exec(statement); err != nil {
			t.Fatal(err)
		}
	}
	return file
}

// plan is SQLite's query plan for the lookup FerretDB sends for a find by _id.
func plan(t *testing.T, file, table string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+file+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var id, parent, unused int
	var detail string
	q := `EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM "` + table + `" WHERE _ferretdb_sjson->'$._id' = ?`
	if err := db.QueryRow(q, `"t-1"`).Scan(&id, &parent, &unused, &detail); err != nil {
		t.Fatal(err)
	}
	return detail
}

func TestLookupsByIDScanWithoutTheIndex(t *testing.T) {
	file := newDatabase(t, t.TempDir(), "app", "trades_1")
	if detail := plan(t, file, "trades_1"); !strings.HasPrefix(detail, "SCAN") {
		t.Fatalf("expected FerretDB's own _id index to go unused, got plan %q", detail)
	}
}

func TestEveryCollectionGetsAnIndexItsLookupsUse(t *testing.T) {
	dir := t.TempDir()
	first := newDatabase(t, dir, "app", "trades_1", "hops_2")
	second := newDatabase(t, dir, "other", "claims_3")

	if err := indexDatabases(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	if err := indexDatabases(context.Background(), dir); err != nil { // idempotent
		t.Fatal(err)
	}

	for file, tables := range map[string][]string{first: {"trades_1", "hops_2"}, second: {"claims_3"}} {
		for _, table := range tables {
			if detail := plan(t, file, table); !strings.Contains(detail, "USING INDEX idpath_"+table) {
				t.Errorf("%s: expected the _id path index, got plan %q", table, detail)
			}
		}
	}
}

func TestADatabaseBeingCreatedIsLeftAlone(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "new.sqlite"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := indexDatabases(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
}

func TestADroppedDatabaseIsNotRecreated(t *testing.T) {
	dir := t.TempDir()
	file := newDatabase(t, dir, "gone", "trades_1")
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if err := indexDatabase(context.Background(), file); !os.IsNotExist(err) {
		t.Fatalf("expected not-exist, got %v", err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("the dropped database file came back: %v", err)
	}
}

// On its last close SQLite deletes the WAL file by name; if FerretDB dropped and re-created
// the database meanwhile, that name is the new database's. The indexer leaves it in place.
func TestTheIndexerNeverDeletesTheWALFile(t *testing.T) {
	file := newDatabase(t, t.TempDir(), "app", "trades_1")
	if err := indexDatabase(context.Background(), file); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file + "-wal"); err != nil {
		t.Fatalf("the WAL file was deleted on close: %v", err)
	}
}
