import type pg from 'pg'
import type { AddressEntry } from '../../domain/address-entry.js'
import { indexEntry } from '../../domain/listing.js'

/** A migration: SQL, or a step that needs code (computing what SQL cannot, like the listing index). */
export type PostgresMigration = string | ((client: pg.PoolClient) => Promise<void>)

/**
 * The PostgreSQL schema, one migration per version, recorded in addrservice_migrations. Never
 * edit a released migration: append a new one.
 */
export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = [
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
  addListing,
  // Sync: ids unique per owner rather than across owners (the terms follow the entry by owner
  // and id), each entry's place in its owner's sequence of changes, the counter that hands out
  // those places, and tombstones of deletions. Existing entries are numbered in creation order,
  // so that a client syncing from 0 receives every one.
  `ALTER TABLE entry_terms DROP CONSTRAINT entry_terms_entry_id_fkey;
   ALTER TABLE address_entries DROP CONSTRAINT address_entries_pkey, ADD PRIMARY KEY (owner, id);
   ALTER TABLE entry_terms ADD FOREIGN KEY (owner, entry_id) REFERENCES address_entries (owner, id) ON DELETE CASCADE;
   DROP INDEX entry_terms_by_entry;
   CREATE INDEX entry_terms_by_entry ON entry_terms (owner, entry_id);
   ALTER TABLE address_entries ADD COLUMN created_seq bigint, ADD COLUMN changed_seq bigint;
   UPDATE address_entries SET created_seq = numbered.place, changed_seq = numbered.place
     FROM (SELECT owner, id, row_number() OVER (PARTITION BY owner ORDER BY created_at, id COLLATE "C") AS place FROM address_entries) AS numbered
     WHERE address_entries.owner = numbered.owner AND address_entries.id = numbered.id;
   ALTER TABLE address_entries ALTER COLUMN created_seq SET NOT NULL, ALTER COLUMN changed_seq SET NOT NULL;
   CREATE UNIQUE INDEX address_entries_by_change ON address_entries (owner, changed_seq);
   CREATE TABLE change_counters (
     owner             text   NOT NULL PRIMARY KEY,
     latest            bigint NOT NULL,
     forgotten_through bigint NOT NULL DEFAULT 0
   );
   INSERT INTO change_counters (owner, latest) SELECT owner, count(*) FROM address_entries GROUP BY owner;
   CREATE TABLE tombstones (
     owner      text        NOT NULL,
     id         text        NOT NULL,
     seq        bigint      NOT NULL,
     deleted_at timestamptz NOT NULL,
     PRIMARY KEY (owner, id)
   );
   CREATE UNIQUE INDEX tombstones_by_seq ON tombstones (owner, seq);
   CREATE INDEX tombstones_by_time ON tombstones (deleted_at);`,
  // Idempotency keys: the result is null while the first request runs, until lease_until.
  `CREATE TABLE idempotency_keys (
     owner       text        NOT NULL,
     key         text        NOT NULL,
     fingerprint text        NOT NULL,
     result      text,
     lease_until timestamptz NOT NULL,
     expires_at  timestamptz NOT NULL,
     PRIMARY KEY (owner, key)
   );
   CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at);`,
  // Card data: what a CardDAV card held beyond its entry, in columns of its own (a large one is
  // kept out of line by TOAST); the card name unique per owner, through an index of the entries
  // that have one; and the name a deleted entry's card had, which a tombstone keeps for sync.
  // Existing entries have none.
  `ALTER TABLE address_entries ADD COLUMN card_name text, ADD COLUMN card_uid text, ADD COLUMN card_kept text;
   CREATE UNIQUE INDEX address_entries_by_card_name ON address_entries (owner, card_name) WHERE card_name IS NOT NULL;
   ALTER TABLE tombstones ADD COLUMN card_name text;`,
  refoldIndex,
  // Photos: each in a table of its own, so that no listing reads its bytes (and TOAST keeps them
  // out of line); its entity tag beside the entry, which is all a listing needs of it.
  `ALTER TABLE address_entries ADD COLUMN photo_etag text;
   CREATE TABLE entry_photos (
     owner        text  NOT NULL,
     entry_id     text  NOT NULL,
     content_type text  NOT NULL,
     image        bytea NOT NULL,
     thumbnail    bytea NOT NULL,
     PRIMARY KEY (owner, entry_id),
     FOREIGN KEY (owner, entry_id) REFERENCES address_entries (owner, id) ON DELETE CASCADE
   );`,
  // History: through what each entry's version was made, and every version a write replaced or
  // deleted, which restores a version, the trash and a whole book. Its primary key leads with
  // the entry, so that an entry's versions are one range and no write pays for a second index of
  // them; (owner, replaced_at) finds what a book restore undoes and what forgetting removes, one
  // owner at a time; the trash walks its own partial index, newest deletion first. Photos are kept
  // per version, by their entity tag, and outlive their entry (the trash shows them): they are no
  // longer deleted with it. An existing photo takes its entry's tag; one its entry does not name
  // (no write leaves one) could never be read, and goes. Existing entries have no history yet.
  `ALTER TABLE address_entries ADD COLUMN source text NOT NULL DEFAULT 'api';
   CREATE TABLE entry_history (
     seq         bigint      GENERATED ALWAYS AS IDENTITY,
     owner       text        NOT NULL,
     id          text        NOT NULL,
     version     integer     NOT NULL,
     created_at  timestamptz NOT NULL,
     updated_at  timestamptz NOT NULL,
     replaced_at timestamptz NOT NULL,
     deleted     boolean     NOT NULL,
     source      text        NOT NULL,
     entry       jsonb       NOT NULL,
     search_text text        NOT NULL,
     card_name   text,
     card_uid    text,
     card_kept   text,
     photo_etag  text,
     PRIMARY KEY (owner, id, seq)
   );
   CREATE INDEX entry_history_by_time ON entry_history (owner, replaced_at);
   CREATE INDEX entry_history_trash ON entry_history (owner, replaced_at, id COLLATE "C") WHERE deleted;
   ALTER TABLE entry_photos DROP CONSTRAINT entry_photos_owner_entry_id_fkey, ADD COLUMN etag text;
   UPDATE entry_photos SET etag = address_entries.photo_etag
     FROM address_entries WHERE address_entries.owner = entry_photos.owner AND address_entries.id = entry_photos.entry_id;
   DELETE FROM entry_photos WHERE etag IS NULL;
   ALTER TABLE entry_photos ALTER COLUMN etag SET NOT NULL, DROP CONSTRAINT entry_photos_pkey, ADD PRIMARY KEY (owner, entry_id, etag);`,
]

/**
 * Listing: sort and search columns, exact-filter terms, and their indexes. Substring search uses
 * pg_trgm (a trusted extension since PostgreSQL 13: the database owner may create it). Its
 * operator class is named with the schema the extension lives in, which need not be on the
 * search path.
 */
async function addListing(client: pg.PoolClient): Promise<void> {
  await client.query('CREATE EXTENSION IF NOT EXISTS pg_trgm')
  const { rows } = await client.query<{ schema: string }>(
    "SELECT quote_ident(n.nspname) AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'",
  )
  const schema = rows[0]?.schema ?? 'public'
  await client.query(`
    ALTER TABLE address_entries ADD COLUMN sort_name text, ADD COLUMN search_text text;
    CREATE TABLE entry_terms (
      entry_id text NOT NULL REFERENCES address_entries (id) ON DELETE CASCADE,
      owner    text NOT NULL,
      field    text NOT NULL,
      value    text NOT NULL,
      PRIMARY KEY (owner, field, value, entry_id)
    );
    CREATE INDEX entry_terms_by_entry ON entry_terms (entry_id);`)
  const entries = await client.query<{ id: string; owner: string; entry: AddressEntry }>('SELECT id, owner, entry FROM address_entries')
  for (const { id, owner, entry } of entries.rows) {
    const index = indexEntry(entry)
    await client.query('UPDATE address_entries SET sort_name = $2, search_text = $3 WHERE id = $1', [id, index.sortName, index.searchText])
    await client.query(
      `INSERT INTO entry_terms (entry_id, owner, field, value)
       SELECT $1, $2, term.field, term.value FROM jsonb_to_recordset($3::jsonb) AS term(field text, value text) ON CONFLICT DO NOTHING`,
      [id, owner, JSON.stringify(index.terms)],
    )
  }
  await client.query(`
    ALTER TABLE address_entries ALTER COLUMN sort_name SET NOT NULL, ALTER COLUMN search_text SET NOT NULL;
    DROP INDEX address_entries_by_owner;
    CREATE INDEX address_entries_by_created ON address_entries (owner, created_at, id COLLATE "C");
    CREATE INDEX address_entries_by_updated ON address_entries (owner, updated_at, id COLLATE "C");
    CREATE INDEX address_entries_by_name ON address_entries (owner, sort_name COLLATE "C", id COLLATE "C");
    CREATE INDEX address_entries_search ON address_entries USING gin (search_text ${schema}.gin_trgm_ops);`)
}

/**
 * Derives the listing index again for entries with text beyond ASCII, after `foldCase` took in
 * compatibility forms (NFKC): names sort, and filters and the search match, as they would for a
 * new entry. ASCII text folds as it did, so only the other entries are read, a thousand at a time.
 */
async function refoldIndex(client: pg.PoolClient): Promise<void> {
  let after = { owner: '', id: '' }
  for (;;) {
    const { rows } = await client.query<{ owner: string; id: string; entry: AddressEntry }>(
      `SELECT owner, id, entry FROM address_entries
       WHERE (owner, id) > ($1, $2) AND entry::text ~ '[^\\x01-\\x7e]'
       ORDER BY owner, id LIMIT 1000`,
      [after.owner, after.id],
    )
    const last = rows.at(-1)
    if (!last) return
    for (const { owner, id, entry } of rows) {
      const index = indexEntry(entry)
      await client.query('UPDATE address_entries SET sort_name = $3, search_text = $4 WHERE owner = $1 AND id = $2', [owner, id, index.sortName, index.searchText])
      await client.query('DELETE FROM entry_terms WHERE owner = $1 AND entry_id = $2', [owner, id])
      await client.query(
        `INSERT INTO entry_terms (entry_id, owner, field, value)
         SELECT $1, $2, term.field, term.value FROM jsonb_to_recordset($3::jsonb) AS term(field text, value text) ON CONFLICT DO NOTHING`,
        [id, owner, JSON.stringify(index.terms)],
      )
    }
    after = { owner: last.owner, id: last.id }
  }
}

/** Serializes migrations across every instance that starts at once (an arbitrary constant). */
export const MIGRATION_LOCK_KEY = 0x61646472
