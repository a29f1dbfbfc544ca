/**
 * The SQLite schema, one migration per version; `PRAGMA user_version` records how many have
 * been applied. Never edit a released migration: append a new one.
 */
export const SQLITE_MIGRATIONS: readonly string[] = [
  `CREATE TABLE address_entries (
     id         TEXT    NOT NULL PRIMARY KEY,
     owner      TEXT    NOT NULL,
     version    INTEGER NOT NULL,
     created_at TEXT    NOT NULL,
     updated_at TEXT    NOT NULL,
     entry      TEXT    NOT NULL CHECK (json_valid(entry))
   ) STRICT;
   CREATE INDEX address_entries_by_owner ON address_entries (owner, id);`,
]
