/** Which store to use, as the `addr-db` setting names it. */
export type StoreConfig = { kind: 'memory' } | { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string }

/** An `addr-db` value that names no store; the message is one line and repeats no credentials. */
export class StoreSettingError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'StoreSettingError'
  }
}

const STORE_HELP =
  'must be {memory: null}, {sqlite: PATH}, {postgres: URL}, or a URL like memory:, sqlite:PATH or postgres://HOST/DB'

/** `addr-db` as the original's mapping (`{sqlite: PATH}`) or as a URL (`sqlite:PATH`). */
export function parseStoreSetting(value: unknown): StoreConfig {
  if (typeof value === 'string') return parseStoreUrl(value)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new StoreSettingError(STORE_HELP)
  const entries = Object.entries(value as Record<string, unknown>)
  const [first] = entries
  if (entries.length !== 1 || first === undefined) throw new StoreSettingError(STORE_HELP)
  const [kind, setting] = first
  if (kind === 'memory' && (setting === null || setting === undefined)) return { kind: 'memory' }
  if (kind === 'sqlite' && typeof setting === 'string' && setting.length > 0) return { kind: 'sqlite', path: setting }
  if (kind === 'postgres' && typeof setting === 'string' && isPostgresUrl(setting)) return { kind: 'postgres', url: setting }
  throw new StoreSettingError(STORE_HELP)
}

function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\/./.test(url) && URL.canParse(url)
}

function parseStoreUrl(url: string): StoreConfig {
  if (url === 'memory:' || url === 'memory://') return { kind: 'memory' }
  if (isPostgresUrl(url)) return { kind: 'postgres', url }
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '')
    if (path.length > 0 && !path.startsWith('//')) return { kind: 'sqlite', path }
  }
  const shown = url.includes('@') || /password=/i.test(url) ? '(a URL with credentials)' : url
  throw new StoreSettingError(`${STORE_HELP} (got ${JSON.stringify(shown)})`)
}

/** The store as logs show it: no password. */
export function describeStoreConfig(config: StoreConfig): string {
  switch (config.kind) {
    case 'memory':
      return 'memory'
    case 'sqlite':
      return `sqlite:${config.path}`
    case 'postgres':
      return `postgres:${redactPassword(config.url)}`
  }
}

/** The URL with its password replaced by ***, whether in the userinfo or a `password` parameter. */
export function redactPassword(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    for (const key of [...parsed.searchParams.keys()]) {
      if (key.toLowerCase() === 'password') parsed.searchParams.set(key, '***')
    }
    return parsed.toString()
  } catch {
    return 'postgres://(unparseable URL)'
  }
}
