/**
 * The PostgreSQL schema, one migration per version, recorded in addrservice_migrations. Never
 * edit a released migration: append a new one.
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  `CREATE TABLE address_entries (
     id         text        NOT NULL PRIMARY KEY,
     owner      text        NOT NULL,
     version    integer     NOT NULL,
     created_at timestamptz NOT NULL,
     updated_at timestamptz NOT NULL,
     entry      jsonb       NOT NULL
   );
   CREATE INDEX address_entries_by_owner ON address_entries (owner, id COLLATE "C");`,
  `CREATE TABLE api_keys (
     id           text        NOT NULL PRIMARY KEY,
     owner        text        NOT NULL,
     scope        text        NOT NULL CHECK (scope IN ('read', 'write')),
     label        text,
     secret_hash  text        NOT NULL,
     created_at   timestamptz NOT NULL,
     last_used_at timestamptz,
     revoked_at   timestamptz
   );
   CREATE INDEX api_keys_by_owner ON api_keys (owner, created_at);`,
]

/** Serializes migrations across every instance that starts at once (an arbitrary constant). */
export const MIGRATION_LOCK_KEY = 0x61646472
