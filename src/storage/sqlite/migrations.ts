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
  `CREATE TABLE api_keys (
     id           TEXT NOT NULL PRIMARY KEY,
     owner        TEXT NOT NULL,
     scope        TEXT NOT NULL CHECK (scope IN ('read', 'write')),
     label        TEXT,
     secret_hash  TEXT NOT NULL,
     created_at   TEXT NOT NULL,
     last_used_at TEXT,
     revoked_at   TEXT
   ) STRICT;
   CREATE INDEX api_keys_by_owner ON api_keys (owner, created_at);`,
]
