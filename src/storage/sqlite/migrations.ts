import type Database from 'better-sqlite3'
import type { AddressEntry } from '../../domain/address-entry.js'
import { indexEntry } from '../../domain/listing.js'
import { trigramTokens } from './trigrams.js'

/** A migration: SQL, or a step that needs code (computing what SQL cannot, like the listing index). */
export type SqliteMigration = string | ((db: Database.Database) => void)

/**
 * The SQLite schema, one migration per version; `PRAGMA user_version` records how many have
 * been applied. Never edit a released migration: append a new one.
 */
export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
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
  // Listing: a stable integer key (seq) that the search index refers to, a sort column for names,
  // exact-filter terms, and a trigram full-text index for substring search.
  `CREATE TABLE address_entries_v3 (
     seq        INTEGER PRIMARY KEY,
     id         TEXT    NOT NULL UNIQUE,
     owner      TEXT    NOT NULL,
     version    INTEGER NOT NULL,
     created_at TEXT    NOT NULL,
     updated_at TEXT    NOT NULL,
     sort_name  TEXT    NOT NULL,
     entry      TEXT    NOT NULL CHECK (json_valid(entry))
   ) STRICT;
   INSERT INTO address_entries_v3 (id, owner, version, created_at, updated_at, sort_name, entry)
     SELECT id, owner, version, created_at, updated_at, '', entry FROM address_entries ORDER BY id;
   DROP TABLE address_entries;
   ALTER TABLE address_entries_v3 RENAME TO address_entries;
   CREATE INDEX address_entries_by_created ON address_entries (owner, created_at, id);
   CREATE INDEX address_entries_by_updated ON address_entries (owner, updated_at, id);
   CREATE INDEX address_entries_by_name ON address_entries (owner, sort_name, id);
   CREATE TABLE entry_terms (
     seq   INTEGER NOT NULL,
     owner TEXT    NOT NULL,
     field TEXT    NOT NULL,
     value TEXT    NOT NULL,
     PRIMARY KEY (owner, field, value, seq)
   ) STRICT, WITHOUT ROWID;
   CREATE INDEX entry_terms_by_entry ON entry_terms (seq);
   CREATE VIRTUAL TABLE entry_search USING fts5(search_text, tokenize = 'trigram');`,
  indexExistingEntries,
  // Sync: ids unique per owner rather than across owners (a rebuild: SQLite cannot drop a
  // constraint), each entry's place in its owner's sequence of changes, the counter that hands
  // out those places, and tombstones of deletions. The rebuild keeps seq, which entry_terms and
  // entry_search refer to. Existing entries are numbered in creation order, so that a client
  // syncing from 0 receives every one.
  `CREATE TABLE address_entries_v5 (
     seq         INTEGER PRIMARY KEY,
     id          TEXT    NOT NULL,
     owner       TEXT    NOT NULL,
     version     INTEGER NOT NULL,
     created_at  TEXT    NOT NULL,
     updated_at  TEXT    NOT NULL,
     sort_name   TEXT    NOT NULL,
     entry       TEXT    NOT NULL CHECK (json_valid(entry)),
     created_seq INTEGER NOT NULL,
     changed_seq INTEGER NOT NULL,
     UNIQUE (owner, id)
   ) STRICT;
   INSERT INTO address_entries_v5 (seq, id, owner, version, created_at, updated_at, sort_name, entry, created_seq, changed_seq)
     SELECT seq, id, owner, version, created_at, updated_at, sort_name, entry, place, place
     FROM (SELECT *, row_number() OVER (PARTITION BY owner ORDER BY created_at, id) AS place FROM address_entries);
   DROP TABLE address_entries;
   ALTER TABLE address_entries_v5 RENAME TO address_entries;
   CREATE INDEX address_entries_by_created ON address_entries (owner, created_at, id);
   CREATE INDEX address_entries_by_updated ON address_entries (owner, updated_at, id);
   CREATE INDEX address_entries_by_name ON address_entries (owner, sort_name, id);
   CREATE UNIQUE INDEX address_entries_by_change ON address_entries (owner, changed_seq);
   CREATE TABLE change_counters (
     owner             TEXT    NOT NULL PRIMARY KEY,
     latest            INTEGER NOT NULL,
     forgotten_through INTEGER NOT NULL DEFAULT 0
   ) STRICT, WITHOUT ROWID;
   INSERT INTO change_counters (owner, latest) SELECT owner, count(*) FROM address_entries GROUP BY owner;
   CREATE TABLE tombstones (
     owner      TEXT    NOT NULL,
     id         TEXT    NOT NULL,
     seq        INTEGER NOT NULL,
     deleted_at TEXT    NOT NULL,
     PRIMARY KEY (owner, id)
   ) STRICT, WITHOUT ROWID;
   CREATE UNIQUE INDEX tombstones_by_seq ON tombstones (owner, seq);
   CREATE INDEX tombstones_by_time ON tombstones (deleted_at);`,
  // Idempotency keys: the result is null while the first request runs, until lease_until.
  `CREATE TABLE idempotency_keys (
     owner       TEXT NOT NULL,
     key         TEXT NOT NULL,
     fingerprint TEXT NOT NULL,
     result      TEXT,
     lease_until TEXT NOT NULL,
     expires_at  TEXT NOT NULL,
     PRIMARY KEY (owner, key)
   ) STRICT, WITHOUT ROWID;
   CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at);`,
  indexSearchPerOwner,
  // Card data: what a CardDAV card held beyond its entry, in columns of its own after the others
  // (a listing reads past a large one only to return it); the card name unique per owner, through
  // an index of the entries that have one; and the name a deleted entry's card had, which a
  // tombstone keeps for sync. Existing entries have none.
  `ALTER TABLE address_entries ADD COLUMN card_name TEXT;
   ALTER TABLE address_entries ADD COLUMN card_uid TEXT;
   ALTER TABLE address_entries ADD COLUMN card_kept TEXT;
   CREATE UNIQUE INDEX address_entries_by_card_name ON address_entries (owner, card_name) WHERE card_name IS NOT NULL;
   ALTER TABLE tombstones ADD COLUMN card_name TEXT;`,
  refoldIndex,
  // Photos: each in a table of its own, keyed by its entry's seq, so that no listing reads its
  // bytes; its entity tag beside the entry, which is all a listing needs of it. The thumbnail
  // comes before the image: a row is read in column order, and the image's overflow pages then
  // lie beyond what a thumbnail's read touches.
  `ALTER TABLE address_entries ADD COLUMN photo_etag TEXT;
   CREATE TABLE entry_photos (
     seq          INTEGER NOT NULL PRIMARY KEY,
     content_type TEXT    NOT NULL,
     thumbnail    BLOB    NOT NULL,
     image        BLOB    NOT NULL
   ) STRICT;`,
  // History: what every write replaced or deleted, a row per version, with the search text that a
  // search of the trash reads (before the entry, so that the search does not read past it), and
  // through what each version was made, the current one's beside it. Photos are kept per entry
  // and entity tag rather than per entry row, so that a version in the history keeps its photo
  // after the entry's changes; existing photos move over under their entry's tag. The thumbnail
  // still comes before the image, so that reading it does not walk the image's overflow pages.
  `ALTER TABLE address_entries ADD COLUMN source TEXT NOT NULL DEFAULT 'api';
   CREATE TABLE entry_history (
     seq         INTEGER PRIMARY KEY,
     owner       TEXT    NOT NULL,
     id          TEXT    NOT NULL,
     version     INTEGER NOT NULL,
     created_at  TEXT    NOT NULL,
     updated_at  TEXT    NOT NULL,
     replaced_at TEXT    NOT NULL,
     deleted     INTEGER NOT NULL,
     source      TEXT    NOT NULL,
     search_text TEXT    NOT NULL,
     entry       TEXT    NOT NULL,
     photo_etag  TEXT,
     card_name   TEXT,
     card_uid    TEXT,
     card_kept   TEXT
   ) STRICT;
   CREATE INDEX entry_history_by_entry ON entry_history (owner, id, seq);
   CREATE INDEX entry_history_in_trash ON entry_history (owner, replaced_at, id) WHERE deleted = 1;
   CREATE INDEX entry_history_by_time ON entry_history (replaced_at);
   CREATE TABLE photos (
     owner        TEXT NOT NULL,
     id           TEXT NOT NULL,
     etag         TEXT NOT NULL,
     content_type TEXT NOT NULL,
     thumbnail    BLOB NOT NULL,
     image        BLOB NOT NULL,
     UNIQUE (owner, id, etag)
   ) STRICT;
   INSERT INTO photos (owner, id, etag, content_type, thumbnail, image)
     SELECT e.owner, e.id, e.photo_etag, p.content_type, p.thumbnail, p.image
     FROM entry_photos AS p JOIN address_entries AS e USING (seq) WHERE e.photo_etag IS NOT NULL;
   DROP TABLE entry_photos;`,
]

/** Fills the listing index of entries stored before it existed. */
function indexExistingEntries(db: Database.Database): void {
  const rows = db.prepare<[], { seq: number; owner: string; entry: string }>('SELECT seq, owner, entry FROM address_entries').all()
  const setName = db.prepare('UPDATE address_entries SET sort_name = ? WHERE seq = ?')
  const addTerm = db.prepare('INSERT OR IGNORE INTO entry_terms (seq, owner, field, value) VALUES (?, ?, ?, ?)')
  const addSearch = db.prepare('INSERT INTO entry_search (rowid, search_text) VALUES (?, ?)')
  for (const { seq, owner, entry } of rows) {
    const index = indexEntry(JSON.parse(entry) as AddressEntry)
    setName.run(index.sortName, seq)
    for (const term of index.terms) addTerm.run(seq, owner, term.field, term.value)
    addSearch.run(seq, index.searchText)
  }
}

/**
 * Replaces the search index shared by every owner (entry_search, whose postings for a trigram
 * span all books, so that a search's cost grew with what other owners hold) with one kept per
 * owner (see trigrams.ts): an integer tag per owner, FTS5 over owner-tagged trigram tokens, and
 * each entry's search text beside it, which confirms the index's candidates and, through an
 * index of the owner's texts, serves searches too short for a trigram. Built from the entries
 * themselves; the old index goes first, so that the new one reuses its pages.
 */
function indexSearchPerOwner(db: Database.Database): void {
  db.exec(`DROP TABLE entry_search;
    ALTER TABLE address_entries ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
    CREATE TABLE search_owners (
      tag   INTEGER PRIMARY KEY,
      owner TEXT    NOT NULL UNIQUE
    ) STRICT;
    CREATE VIRTUAL TABLE entry_trigrams USING fts5(tokens, tokenize = 'ascii', content = '', contentless_delete = 1, detail = 'none');
    INSERT INTO search_owners (owner) SELECT DISTINCT owner FROM address_entries ORDER BY owner;`)
  // A thousand entries at a time, so that memory stays flat whatever the size of the file.
  const batch = db.prepare<[number], { seq: number; tag: number; entry: string }>(
    'SELECT seq, tag, entry FROM address_entries JOIN search_owners USING (owner) WHERE seq > ? ORDER BY seq LIMIT 1000',
  )
  const setText = db.prepare('UPDATE address_entries SET search_text = ? WHERE seq = ?')
  const addTrigrams = db.prepare('INSERT INTO entry_trigrams (rowid, tokens) VALUES (?, ?)')
  let after = 0
  for (;;) {
    const rows = batch.all(after)
    const last = rows.at(-1)
    if (!last) break
    for (const { seq, tag, entry } of rows) {
      const { searchText } = indexEntry(JSON.parse(entry) as AddressEntry)
      setText.run(searchText, seq)
      addTrigrams.run(seq, trigramTokens(searchText, tag))
    }
    after = last.seq
  }
  // In seq order within an owner, so that a new entry's text goes at the end of its owner's.
  db.exec('CREATE INDEX address_entries_by_text ON address_entries (owner, seq, search_text)')
}

/**
 * Derives the listing index again for entries with text beyond ASCII, after `foldCase` took in
 * compatibility forms (NFKC): names sort, and filters and the search match, as they would for a
 * new entry. ASCII text folds as it did, so only the other entries are read; an entry's JSON
 * holds control characters only as escapes, so any character outside space to tilde is beyond ASCII.
 */
function refoldIndex(db: Database.Database): void {
  const batch = db.prepare<[number], { seq: number; owner: string; tag: number; entry: string }>(
    `SELECT seq, owner, tag, entry FROM address_entries JOIN search_owners USING (owner)
     WHERE seq > ? AND entry GLOB '*[^ -~]*' ORDER BY seq LIMIT 1000`,
  )
  const setIndex = db.prepare('UPDATE address_entries SET sort_name = ?, search_text = ? WHERE seq = ?')
  const deleteTerms = db.prepare('DELETE FROM entry_terms WHERE seq = ?')
  const addTerm = db.prepare('INSERT OR IGNORE INTO entry_terms (seq, owner, field, value) VALUES (?, ?, ?, ?)')
  const deleteTrigrams = db.prepare('DELETE FROM entry_trigrams WHERE rowid = ?')
  const addTrigrams = db.prepare('INSERT INTO entry_trigrams (rowid, tokens) VALUES (?, ?)')
  let after = 0
  for (;;) {
    const rows = batch.all(after)
    const last = rows.at(-1)
    if (!last) break
    for (const { seq, owner, tag, entry } of rows) {
      const index = indexEntry(JSON.parse(entry) as AddressEntry)
      setIndex.run(index.sortName, index.searchText, seq)
      deleteTerms.run(seq)
      for (const term of index.terms) addTerm.run(seq, owner, term.field, term.value)
      deleteTrigrams.run(seq)
      addTrigrams.run(seq, trigramTokens(index.searchText, tag))
    }
    after = last.seq
  }
}
