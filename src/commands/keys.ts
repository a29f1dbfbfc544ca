import { ApiKeys } from '../auth/api-keys.js'
import type { KeysCommand } from '../cli.js'
import type { Config } from '../config/settings.js'
import { isOwnerName } from '../domain/principal.js'
import { createStore } from '../storage/factory.js'
import type { ApiKeyRecord, Store } from '../storage/store.js'
import { describeStoreConfig } from '../storage/store-config.js'

export interface KeysIo {
  readonly stdout: { write(text: string): unknown }
  /** Prints one line on standard error and returns the exit code. */
  readonly fail: (code: number, message: string) => number
}

const MAX_LABEL_LENGTH = 200

/**
 * `addrservice keys create|list|revoke`: manages API keys in the store the server uses (the same
 * --config and --db), so that every instance over that store sees them.
 */
export async function runKeys(command: KeysCommand, config: Config, io: KeysIo): Promise<number> {
  if (config.store.kind === 'memory') return io.fail(2, 'keys need a store that keeps them (sqlite or postgres), not memory')
  if (command.verb === 'create') {
    // Basic authentication sends "owner:key", so an owner with a colon could never use it.
    if (!isOwnerName(command.owner) || command.owner.includes(':')) {
      return io.fail(2, '--owner must be 1 to 200 printable characters without a colon')
    }
    if (command.label !== undefined && (command.label.length > MAX_LABEL_LENGTH || !isOwnerName(command.label))) {
      return io.fail(2, `--label must be 1 to ${String(MAX_LABEL_LENGTH)} printable characters`)
    }
  }
  let store: Store
  try {
    store = await createStore(config.store, { ...config.postgres })
  } catch (error) {
    return io.fail(1, `cannot open the store ${describeStoreConfig(config.store)}: ${error instanceof Error ? error.message : String(error)}`)
  }
  try {
    return await run(command, new ApiKeys(store), io)
  } catch (error) {
    return io.fail(1, `cannot reach the store ${describeStoreConfig(config.store)}: ${error instanceof Error ? error.message : String(error)}`)
  } finally {
    await store.close()
  }
}

async function run(command: KeysCommand, keys: ApiKeys, io: KeysIo): Promise<number> {
  switch (command.verb) {
    case 'create': {
      const { key, record } = await keys.create(command.owner, command.scope, command.label ?? null)
      // The key alone on standard output, so that `KEY=$(addrservice keys create ...)` works.
      io.stdout.write(`${key}\n`)
      process.stderr.write(`addrservice: created key ${record.id} for owner ${record.owner} (scope ${record.scope}); it is shown only this once\n`)
      return 0
    }
    case 'list':
      io.stdout.write(formatKeys(await keys.list(command.owner)))
      return 0
    case 'revoke': {
      const revoked = await keys.revoke(command.id)
      if (!revoked) return io.fail(1, `no key has the id ${JSON.stringify(command.id)}`)
      io.stdout.write(`revoked ${revoked.id} (owner ${revoked.owner}) at ${String(revoked.revokedAt)}\n`)
      return 0
    }
  }
}

const COLUMNS = ['ID', 'OWNER', 'SCOPE', 'LABEL', 'CREATED', 'LAST USED', 'REVOKED'] as const

/** Tab-separated columns under a header line: readable, and easy to cut or awk. */
export function formatKeys(keys: readonly ApiKeyRecord[]): string {
  const rows = keys.map((key) => [key.id, key.owner, key.scope, key.label ?? '-', key.createdAt, key.lastUsedAt ?? '-', key.revokedAt ?? '-'])
  return [COLUMNS, ...rows].map((row) => `${row.join('\t')}\n`).join('')
}
