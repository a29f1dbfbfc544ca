import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'

/** The parts of an OpenAPI document the conformance check reads. */
interface Document {
  paths: Record<string, Record<string, Operation | undefined>>
}
interface Operation {
  responses: Record<string, DocumentedResponse>
}
interface DocumentedResponse {
  headers?: Record<string, { schema: object }>
  content?: Record<string, { schema: object }>
}

/** A response as a test saw it. */
export interface ObservedResponse {
  readonly method: string
  /** The request target, query included. */
  readonly url: string
  readonly statusCode: number
  readonly headers: Readonly<Record<string, string | string[] | number | undefined>>
  readonly body: string
  /** The body's bytes as sent, before any Content-Encoding is undone. */
  readonly rawPayload?: Buffer
}

const DECODERS: Record<string, (bytes: Buffer) => Buffer> = { gzip: gunzipSync, br: brotliDecompressSync, deflate: inflateSync }

/** The body as text, its Content-Encoding undone. */
function bodyOf(response: ObservedResponse): string {
  const decode = DECODERS[String(response.headers['content-encoding'] ?? '')]
  return decode && response.rawPayload ? decode(response.rawPayload).toString('utf8') : response.body
}

/** Headers whose presence the document must announce wherever a response carries them. */
const ANNOUNCED_HEADERS = [
  'etag',
  'location',
  'link',
  'x-total-count',
  'allow',
  'retry-after',
  'www-authenticate',
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
]

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

const pointer = (...tokens: string[]) => tokens.map((token) => encodeURIComponent(token.replaceAll('~', '~0').replaceAll('/', '~1'))).join('/')

/**
 * Checks real responses against an OpenAPI document: the status must be one the operation
 * documents, the body must match the schema of its media type (or be empty where none is
 * documented), and every header it carries that the API announces (ETag, Location, …) must be
 * documented for that response and match its schema. Responses to paths or methods the
 * document does not describe (unknown endpoints, 405 for other methods) are not checked.
 */
export class OpenApiConformance {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true })
  private readonly validators = new Map<string, ValidateFunction>()
  private readonly templates: { template: string; pattern: RegExp }[]

  constructor(private readonly document: Document) {
    this.ajv.addFormat('plain-text', (text: string) => !text.includes('\0') && !/\p{Cs}/u.test(text))
    this.ajv.addFormat('email', /^[^\s@]+@[^\s@]+$/)
    this.ajv.addFormat('uri', (text: string) => URL.canParse(text))
    this.ajv.addSchema(document, 'openapi.json')
    // Paths without parameters first: /addresses/changes is not an entry's path.
    this.templates = Object.keys(document.paths).sort((a, b) => Number(a.includes('{')) - Number(b.includes('{'))).map((template) => ({
      template,
      pattern: new RegExp(`^${template.split(/\{[^}]+\}/).map(escapeRegExp).join('[^/]+')}/?$`),
    }))
  }

  /** What is wrong with a response, one line each; empty when it conforms. */
  problems(response: ObservedResponse): string[] {
    const path = response.url.split('?', 1)[0] ?? ''
    const template = this.templates.find(({ pattern }) => pattern.test(path))?.template
    if (template === undefined) return []
    const method = response.method.toLowerCase()
    const operation = this.document.paths[template]?.[method]
    if (operation === undefined) return []
    const where = `${response.method} ${template} ${String(response.statusCode)}`
    const status = String(response.statusCode)
    const documented = operation.responses[status]
    if (documented === undefined) return [`${where}: the status is not documented (${response.body.slice(0, 200)})`]

    const problems: string[] = []
    for (const name of ANNOUNCED_HEADERS) {
      const value = response.headers[name]
      if (value === undefined) continue
      const key = Object.keys(documented.headers ?? {}).find((header) => header.toLowerCase() === name)
      if (key === undefined) {
        problems.push(`${where}: header ${name} is not documented`)
        continue
      }
      const validate = this.validator(pointer('paths', template, method, 'responses', status, 'headers', key, 'schema'))
      const values: string[] = Array.isArray(value) ? value.map(String) : [String(value)]
      for (const single of values) {
        const valid: boolean = validate(single)
        if (!valid) problems.push(`${where}: header ${name}: ${single} ${this.ajv.errorsText(validate.errors)}`)
      }
    }

    const bodyless = response.method === 'HEAD' || response.statusCode === 204 || response.statusCode === 304
    if (documented.content === undefined || bodyless) {
      if (response.body !== '') problems.push(`${where}: a body where none is documented`)
      return problems
    }
    const contentType = String(response.headers['content-type'] ?? '')
    const mediaType = contentType.split(';', 1)[0]?.trim().toLowerCase() ?? ''
    if (!(mediaType in documented.content)) {
      problems.push(`${where}: content type ${contentType} is not documented`)
      return problems
    }
    if (mediaType === 'application/x-ndjson') return [...problems, ...this.lineProblems(where, bodyOf(response))]
    if (!mediaType.endsWith('json')) return problems
    const validate = this.validator(pointer('paths', template, method, 'responses', status, 'content', mediaType, 'schema'))
    if (!validate(JSON.parse(bodyOf(response)))) problems.push(`${where}: body ${this.ajv.errorsText(validate.errors)}`)
    return problems
  }

  /** NDJSON is documented as text: each line must at least be JSON. */
  private lineProblems(where: string, body: string): string[] {
    return body
      .split('\n')
      .filter((line) => line !== '')
      .flatMap((line, index) => {
        try {
          JSON.parse(line)
          return []
        } catch {
          return [`${where}: line ${String(index + 1)} is not JSON`]
        }
      })
  }

  private validator(at: string): ValidateFunction {
    let validate = this.validators.get(at)
    if (!validate) {
      const found = this.ajv.getSchema(`openapi.json#/${at}`)
      if (!found) throw new Error(`no schema at ${at}`)
      validate = found
      this.validators.set(at, validate)
    }
    return validate
  }
}
