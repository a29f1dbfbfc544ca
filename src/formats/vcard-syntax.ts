/**
 * The text level of vCard, below what a parser sees: content lines out of the text as phones and
 * desktop apps write it (folded or not, CRLF, LF or the `\r\r\n` of some phones, vCard 2.1's
 * quoted-printable values with soft line breaks and its unindented base64 lines), and, for
 * writing, escaping and folding.
 */

/** Text that is not vCard at all; `line` is where in the text (1-based) it stops being vCard. */
export class VCardSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    options?: { cause?: unknown },
  ) {
    super(`Line ${line}: ${message}`, options)
    this.name = 'VCardSyntaxError'
  }
}

/** One unfolded content line: `group.NAME;param;param:value`, and the line of the text it starts on. */
export interface ContentLine {
  /** As written, group included: `item1.TEL` */
  readonly name: string
  /** As written, without the `;` between them: `TYPE=HOME`, `HOME`, `CHARSET=UTF-8` */
  readonly params: readonly string[]
  readonly value: string
  readonly line: number
}

const BASE64_DATA = /^[A-Za-z0-9+/=]+$/

/** The physical lines of a text, split at CRLF, LF, CR or the `\r\r\n` of some phones, as they are asked for. */
function* physicalLines(text: string): Generator<string> {
  const lineBreak = /\r*\n|\r/g
  let start = 0
  for (let found = lineBreak.exec(text); found !== null; found = lineBreak.exec(text)) {
    yield text.slice(start, found.index)
    start = found.index + found[0].length
  }
  yield text.slice(start)
}

/**
 * The content lines of a text, each once its last physical line has been read: a caller that
 * stops early reads no further. Blank lines, which vCard has no use for, are skipped (they end the
 * base64 data of a 2.1 PHOTO).
 */
export function* contentLines(text: string): Generator<ContentLine> {
  let current: Unfolding | undefined
  let line = 0
  for (const physical of physicalLines(text.startsWith('\uFEFF') ? text.slice(1) : text)) {
    line++
    if (current?.endsWithSoftBreak() === true) current.joinSoftBreak(physical)
    else if (current !== undefined && (physical.startsWith(' ') || physical.startsWith('\t'))) current.append(physical.slice(1))
    else if (current !== undefined && BASE64_DATA.test(physical) && current.isBase64()) current.append(physical)
    else {
      if (current !== undefined) yield splitContentLine(current.text(), current.line)
      current = physical.trim() === '' ? undefined : new Unfolding(physical, line)
    }
  }
  if (current !== undefined) yield splitContentLine(current.text(), current.line)
}

/**
 * A content line as its physical lines come: kept as pieces and joined once, because a string
 * that grows line by line is copied whole by every look at its end, and a value can be folded
 * over thousands of lines.
 */
class Unfolding {
  readonly #pieces: string[]
  /** The name and parameters, upper case, once the `:` has come. */
  #head: string | undefined

  constructor(
    first: string,
    readonly line: number,
  ) {
    this.#pieces = [first]
    this.#findHead(first)
  }

  append(piece: string): void {
    if (piece === '') return
    this.#pieces.push(piece)
    if (this.#head === undefined) this.#findHead(piece)
  }

  /** A quoted-printable value that ends in `=` goes on in the next line, indented or not. */
  endsWithSoftBreak(): boolean {
    return this.#pieces.at(-1)?.endsWith('=') === true && this.#head?.includes('QUOTED-PRINTABLE') === true
  }

  joinSoftBreak(next: string): void {
    const last = this.#pieces.pop() ?? ''
    if (last.length > 1) this.#pieces.push(last.slice(0, -1))
    this.append(next)
  }

  isBase64(): boolean {
    return this.#head !== undefined && /;(ENCODING=)?(BASE64|B)(;|$)/.test(this.#head)
  }

  text(): string {
    return this.#pieces.join('')
  }

  #findHead(piece: string): void {
    if (piece.includes(':')) {
      const text = this.text()
      this.#head = text.slice(0, text.indexOf(':')).toUpperCase()
    }
  }
}

/** Splits at the `;` and the `:` that are not inside a quoted parameter value. */
function splitContentLine(text: string, line: number): ContentLine {
  const parts: string[] = []
  let start = 0
  let quoted = false
  for (let index = 0; index < text.length; index++) {
    const char = text[index]
    if (char === '"') quoted = !quoted
    else if (!quoted && (char === ';' || char === ':')) {
      parts.push(text.slice(start, index))
      start = index + 1
      if (char === ':') {
        const [name = '', ...params] = parts
        if (name.trim() === '') throw new VCardSyntaxError(`no property name before the ${parts.length > 1 ? ';' : ':'}`, line)
        return { name: name.trim(), params, value: text.slice(start), line }
      }
    }
  }
  throw new VCardSyntaxError(`not a property (no ":"): ${preview(text)}`, line)
}

/** A short, printable excerpt of a line for error messages. */
export function preview(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)
}

/**
 * Decodes a quoted-printable value into text: the bytes are decoded in the charset once the whole
 * value is joined, so a soft line break between the bytes of one character is harmless. Anything
 * that is not an `=XX` escape stands for itself.
 *
 * @throws RangeError when the charset is not one that TextDecoder knows
 */
export function decodeQuotedPrintable(value: string, charset: string): string {
  const decoder = new TextDecoder(charset)
  const chunks: Uint8Array[] = []
  const encoder = new TextEncoder()
  let literalStart = 0
  for (const match of value.matchAll(/=([0-9A-Fa-f]{2})/g)) {
    chunks.push(encoder.encode(value.slice(literalStart, match.index)), Uint8Array.of(Number.parseInt(match[1] ?? '', 16)))
    literalStart = match.index + match[0].length
  }
  chunks.push(encoder.encode(value.slice(literalStart)))
  return decoder.decode(Buffer.concat(chunks))
}

/**
 * vCard 2.1 escapes only `;` (and writers in the wild `\,` and `\\`); any other backslash and
 * every comma are themselves, and a decoded quoted-printable value holds real line breaks. This
 * writes such a value as 3.0 escapes it, so that one parser reads all versions.
 */
export function escape21Value(value: string): string {
  return value.replace(/\\([;,\\])|\\|,|\r\n|\r|\n/g, (match: string, escaped: string | undefined) => {
    if (escaped !== undefined) return match
    if (match === '\\') return '\\\\'
    if (match === ',') return '\\,'
    return '\\n'
  })
}

/**
 * A text value escaped: a line break is `\n` whatever it was. Semicolons are escaped in the
 * components of structured values and everywhere in 3.0; 4.0 has no `\;` in other text.
 */
export function escapeText(value: string, escapeSemicolons: boolean): string {
  const special = escapeSemicolons ? /[\\,;]|\r\n|\r|\n/g : /[\\,]|\r\n|\r|\n/g
  return value.replace(special, (match) => (match === '\\' || match === ',' || match === ';' ? `\\${match}` : '\\n'))
}

/**
 * A parameter value: quoted when it holds `;`, `:` or `,`, with RFC 6868's `^^`, `^'` and `^n`
 * for what a parameter cannot otherwise hold. ical.js also undoes text escapes in parameter
 * values (which RFC 6868 does not have), so a backslash is doubled to read back as one.
 */
export function paramValue(value: string): string {
  const escaped = value.replace(/\\|\^|"|\r\n|\r|\n/g, (match) =>
    match === '\\' ? '\\\\' : match === '^' ? '^^' : match === '"' ? "^'" : '^n',
  )
  return /[;:,]/.test(escaped) ? `"${escaped}"` : escaped
}

const MAX_LINE_OCTETS = 75

/**
 * Folds a content line at 75 octets of UTF-8 (RFC 6350 3.2), between characters, never inside
 * one; each continuation line starts with the space that unfolding removes.
 */
export function foldLine(line: string): string {
  const pieces: string[] = []
  let piece = ''
  let octets = 0
  let room = MAX_LINE_OCTETS
  for (const char of line) {
    const size = utf8Length(char.codePointAt(0) ?? 0)
    if (octets + size > room) {
      pieces.push(piece)
      piece = ''
      octets = 0
      room = MAX_LINE_OCTETS - 1
    }
    piece += char
    octets += size
  }
  pieces.push(piece)
  return pieces.join('\r\n ')
}

function utf8Length(codePoint: number): number {
  return codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4
}
