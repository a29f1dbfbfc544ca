import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import Type from 'typebox'
import { Compile } from 'typebox/compile'
import type * as Yaml from 'yaml'
import { isSetting, listSettings, SETTINGS, type Config, type ConfigLayer, type Setting, type SettingsTree } from './settings.js'

/** A configuration problem: `key` names where the bad value came from. */
export class ConfigError extends Error {
  constructor(readonly key: string, readonly problem: string) {
    super(`${key}: ${problem}`)
    this.name = 'ConfigError'
  }
}

/** What the command line said: flag values by long name (`config` among them); absent flags are undefined. */
export type ConfigFlags = Readonly<Record<string, string | boolean | undefined>>

export interface ConfigSources {
  flags: ConfigFlags
  env: Readonly<Record<string, string | undefined>>
}

interface LayerSource {
  /** Names a key as this layer's source does: `server.port (in file.yaml)`, `ADDRSERVICE_PORT`, `--port`. */
  label: (key: string) => string
  values: ConfigLayer
}

/** The shape of one layer: every setting optional, no unknown keys. */
function layerSchema(tree: SettingsTree): Type.TSchema {
  const properties: Record<string, Type.TSchema> = {}
  for (const [key, item] of Object.entries(tree)) {
    properties[key] = Type.Optional(isSetting(item) ? item.schema : layerSchema(item))
  }
  return Type.Object(properties, { additionalProperties: false })
}
const layerValidator = Compile(layerSchema(SETTINGS))

const SECRET_PATHS = new Set(listSettings().filter(({ setting }) => setting.secret).map(({ path }) => `/${path.replaceAll('.', '/')}`))

/** The built-in defaults: those of configs/addressbook-local.yaml. */
export const DEFAULT_CONFIG: Config = deepFreeze(resolve(SETTINGS, [], () => 'default'))

/**
 * Builds the configuration: built-in defaults < YAML file < environment < command-line flags.
 * Every value is checked; the first bad one throws a ConfigError naming its key and source.
 */
export function loadConfig({ flags, env }: ConfigSources): Config {
  const layers: LayerSource[] = []
  const file = flags.config
  if (typeof file === 'string') layers.push({ label: (key) => `${key} (in ${file})`, values: readConfigFile(file) })
  layers.push(...environmentLayers(env), ...flagLayers(flags))

  for (const { label, values } of layers) {
    const errors = [...layerValidator.Errors(values)] as LayerError[]
    const first = errors.find((error) => error.instancePath !== '') ?? errors[0]
    if (first) {
      const key = first.instancePath.slice(1).replaceAll('/', '.') || 'the file'
      const value = SECRET_PATHS.has(first.instancePath) ? undefined : valueAt(values, first.instancePath)
      throw new ConfigError(label(key), describeProblem(first, value))
    }
  }
  const config = resolve(SETTINGS, layers, (source, key) => source.label(key))
  checkAcrossSettings(config)
  return deepFreeze(config)
}

/**
 * The value of every setting: its default, overridden by each layer that sets it, converted
 * (a store URL becomes a store, `auto` a number of workers) and renamed to camelCase.
 */
function resolve(tree: SettingsTree, layers: readonly LayerSource[], label: (source: LayerSource, key: string) => string, path: string[] = []): Config {
  const result: Record<string, unknown> = {}
  for (const [key, item] of Object.entries(tree)) {
    const here = [...path, key]
    const name = key === 'addr-db' ? 'store' : camelCase(key)
    if (!isSetting(item)) {
      result[name] = resolve(item, layers, label, here)
      continue
    }
    let value = convert(item, item.default, 'default')
    for (const layer of layers) {
      const given = valueAt(layer.values, `/${here.join('/')}`)
      if (given !== undefined) value = convert(item, given, label(layer, here.join('.')))
    }
    result[name] = value
  }
  return result as unknown as Config
}

function convert(setting: Setting, value: unknown, key: string): unknown {
  if (!setting.convert) return value
  try {
    return (setting.convert as (value: unknown) => unknown)(value)
  } catch (error) {
    throw new ConfigError(key, error instanceof Error ? error.message : String(error))
  }
}

/** Rules that tie settings together; checked once every layer is applied. */
function checkAcrossSettings(config: Config): void {
  const { server, auth } = config
  if (server.headersTimeoutMs > server.requestTimeoutMs) {
    throw new ConfigError('server.headers-timeout-ms', `must not be more than server.request-timeout-ms (${String(server.requestTimeoutMs)})`)
  }
  if (server.shutdownDelayMs >= server.shutdownTimeoutMs) {
    throw new ConfigError('server.shutdown-delay-ms', `must be below server.shutdown-timeout-ms (${String(server.shutdownTimeoutMs)})`)
  }
  if ((server.tls.certFile === null) !== (server.tls.keyFile === null)) {
    throw new ConfigError(server.tls.certFile === null ? 'server.tls.cert-file' : 'server.tls.key-file', 'is needed too: HTTPS takes both server.tls.cert-file and server.tls.key-file')
  }
  if (auth.mode === 'api-key' && config.store.kind === 'memory') {
    throw new ConfigError('auth.mode', 'api-key needs a store that keeps keys (sqlite or postgres), not memory')
  }
  if (auth.mode === 'jwt') {
    const sources = (['jwks-url', 'public-key-file', 'secret'] as const).filter((key) => {
      const { jwksUrl, publicKeyFile, secret } = auth.jwt
      return { 'jwks-url': jwksUrl, 'public-key-file': publicKeyFile, secret }[key] !== null
    })
    if (sources.length !== 1) {
      throw new ConfigError(
        'auth.jwt',
        `jwt needs exactly one of auth.jwt.jwks-url, auth.jwt.public-key-file or auth.jwt.secret (ADDRSERVICE_JWT_SECRET)${sources.length > 1 ? ` (got ${sources.join(', ')})` : ''}`,
      )
    }
    if (auth.jwt.issuer === null) throw new ConfigError('auth.jwt.issuer', 'is required with auth.mode jwt')
    if (auth.jwt.audience === null) throw new ConfigError('auth.jwt.audience', 'is required with auth.mode jwt')
  }
}

/** The YAML parser, loaded only to read a configuration file (a start with flags and variables alone does without it). */
const require = createRequire(import.meta.url)

function readConfigFile(file: string): ConfigLayer {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'cannot be read'
    throw new ConfigError(`--config ${file}`, reason)
  }
  let values: unknown
  try {
    values = (require('yaml') as typeof Yaml).parse(text, { maxAliasCount: 100 })
  } catch (error) {
    const where = (error as { linePos?: { line: number }[] }).linePos?.[0]?.line
    throw new ConfigError(`--config ${file}`, `not valid YAML${where === undefined ? '' : ` (line ${String(where)})`}`)
  }
  if (values === null || values === undefined) return {}
  if (typeof values !== 'object' || Array.isArray(values)) {
    throw new ConfigError(`--config ${file}`, 'must be a YAML mapping of settings')
  }
  return values
}

/** One layer per variable set (an empty one counts as unset), weaker variables of a setting first. */
function environmentLayers(env: ConfigSources['env']): LayerSource[] {
  return listSettings().flatMap(({ path, setting }) =>
    (setting.env ?? []).flatMap((name) => {
      const text = env[name]
      if (text === undefined || text === '') return []
      return [{ label: () => name, values: layerAt(path, fromText(setting.schema, text)) }]
    }),
  )
}

function flagLayers(flags: ConfigFlags): LayerSource[] {
  return listSettings().flatMap(({ path, setting }) => {
    const name = setting.flag?.name
    const given = name === undefined ? undefined : flags[name]
    // A boolean flag can only switch its setting on; absent, it leaves the layers below alone.
    if (given === undefined || given === false) return []
    const value = typeof given === 'string' ? fromText(setting.schema, given) : given
    return [{ label: () => `--${String(name)}`, values: layerAt(path, value) }]
  })
}

/** Text from a variable or a flag as the setting's type: decimal digits become a number, true/false a boolean. */
function fromText(schema: Type.TSchema, text: string): unknown {
  if (accepts(schema, 'integer') && /^\d{1,15}$/.test(text)) return Number(text)
  if (accepts(schema, 'boolean') && (text === 'true' || text === 'false')) return text === 'true'
  return text
}

function accepts(schema: Type.TSchema, type: string): boolean {
  const { type: own, anyOf } = schema as { type?: unknown; anyOf?: unknown }
  return own === type || (Array.isArray(anyOf) && anyOf.some((branch) => accepts(branch as Type.TSchema, type)))
}

function layerAt(path: string, value: unknown): ConfigLayer {
  return path
    .split('.')
    .reduceRight<unknown>((inner, key) => ({ [key]: inner }), value) as ConfigLayer
}

function camelCase(key: string): string {
  return key.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase())
}

function valueAt(values: unknown, pointer: string): unknown {
  let current = values
  for (const part of pointer.split('/').slice(1)) {
    current = typeof current === 'object' && current !== null && Object.hasOwn(current, part) ? (current as Record<string, unknown>)[part] : undefined
  }
  return current
}

interface LayerError {
  keyword: string
  instancePath: string
  params: Record<string, unknown>
  message: string
}

/** TypeBox reports an unknown key as "schema is false" and an enum without its values. */
function describeProblem({ keyword, params, message }: LayerError, value: unknown): string {
  if (keyword === 'boolean') return 'is not a known setting'
  const allowed = params.allowedValues
  const problem = keyword === 'enum' && Array.isArray(allowed) ? `must be one of: ${allowed.map(String).join(', ')}` : message
  return `${problem}${describeValue(value)}`
}

function describeValue(value: unknown): string {
  if (value === undefined || (typeof value === 'object' && value !== null)) return ''
  const text = JSON.stringify(value)
  return ` (got ${text.length > 60 ? `${text.slice(0, 60)}…` : text})`
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}
