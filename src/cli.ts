import { parseArgs, type ParseArgsConfig } from 'node:util'
import type { ConfigFlags } from './config/load.js'
import { listSettings } from './config/settings.js'
import { KEYS_USAGE, USAGE } from './usage.js'

export { KEYS_USAGE, USAGE }

export type KeysCommand =
  | { verb: 'create'; owner: string; scope: 'read' | 'write'; label: string | undefined }
  | { verb: 'list'; owner: string | undefined }
  | { verb: 'revoke'; id: string }

export type CliCommand =
  | { action: 'help'; usage: string }
  | { action: 'version' }
  | { action: 'serve'; flags: ConfigFlags }
  | { action: 'keys'; command: KeysCommand; flags: ConfigFlags }

/** A command line that cannot be understood; the message is one line. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

type Options = NonNullable<ParseArgsConfig['options']>

/** Every setting that has a flag, plus the flags that are not settings. */
function serveOptions(): Options {
  const options: Options = {
    config: { type: 'string', short: 'c' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'v' },
  }
  for (const { setting } of listSettings()) {
    if (!setting.flag) continue
    const type = (setting.schema as { type?: unknown }).type === 'boolean' ? 'boolean' : 'string'
    options[setting.flag.name] = setting.flag.short === undefined ? { type } : { type, short: setting.flag.short }
  }
  return options
}

const KEYS_OPTIONS: Options = {
  config: { type: 'string', short: 'c' },
  db: { type: 'string' },
  owner: { type: 'string' },
  scope: { type: 'string' },
  label: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
}

export function parseCommandLine(given: readonly string[]): CliCommand {
  const args = commandFirst(given)
  const [first, ...rest] = args
  if (first === 'keys') return parseKeys(rest)
  const { values } = parse(first === 'serve' ? rest : args, serveOptions(), false)
  if (values.help === true) return { action: 'help', usage: USAGE }
  if (values.version === true) return { action: 'version' }
  return { action: 'serve', flags: flagsOf(values, Object.keys(serveOptions())) }
}

/**
 * The arguments with the command first: `npm start -- keys list` runs
 * `addrservice --config FILE keys list`, and the command comes after the config option there.
 */
function commandFirst(args: readonly string[]): readonly string[] {
  const leading = args[0] === '-c' || args[0] === '--config' ? 2 : args[0]?.startsWith('--config=') ? 1 : 0
  const command = args[leading]
  if (leading === 0 || (command !== 'keys' && command !== 'serve')) return args
  return [command, ...args.slice(0, leading), ...args.slice(leading + 1)]
}

function parseKeys(args: readonly string[]): CliCommand {
  const { values, positionals } = parse(args, KEYS_OPTIONS, true)
  if (values.help === true) return { action: 'help', usage: KEYS_USAGE }
  if (positionals.length === 0) throw new UsageError('keys needs a command: create, list or revoke')
  const [verb, ...more] = positionals
  const flags = flagsOf(values, ['config', 'db'])
  const text = (name: string) => (typeof values[name] === 'string' ? values[name] : undefined)
  const only = (allowed: readonly string[], expected: number) => {
    const stray = Object.keys(values).find((name) => !['config', 'db', ...allowed].includes(name))
    if (stray !== undefined) throw new UsageError(`keys ${String(verb)} does not take --${stray}`)
    if (more.length !== expected) throw new UsageError(`keys ${String(verb)} takes ${expected === 0 ? 'no arguments' : 'one argument'}`)
  }
  switch (verb) {
    case 'create': {
      only(['owner', 'scope', 'label'], 0)
      const owner = text('owner')
      if (owner === undefined) throw new UsageError('keys create needs --owner NAME')
      const scope = text('scope') ?? 'write'
      if (scope !== 'read' && scope !== 'write') throw new UsageError('--scope must be read or write')
      return { action: 'keys', command: { verb, owner, scope, label: text('label') }, flags }
    }
    case 'list':
      only(['owner'], 0)
      return { action: 'keys', command: { verb, owner: text('owner') }, flags }
    case 'revoke':
      only([], 1)
      return { action: 'keys', command: { verb, id: String(more[0]) }, flags }
    default:
      throw new UsageError(`unknown keys command ${JSON.stringify(verb)}: use create, list or revoke`)
  }
}

function parse(args: readonly string[], options: Options, allowPositionals: boolean) {
  try {
    return parseArgs({ args: [...args], strict: true, allowPositionals, options })
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    throw new UsageError(message.split('\n')[0] ?? message)
  }
}

function flagsOf(values: Record<string, string | boolean | (string | boolean)[] | undefined>, names: readonly string[]): ConfigFlags {
  const flags: Record<string, string | boolean | undefined> = {}
  for (const name of names) {
    if (name === 'help' || name === 'version') continue
    const value = values[name]
    flags[name] = Array.isArray(value) ? value.at(-1) : value
  }
  return flags
}
