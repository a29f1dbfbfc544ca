import { Writable } from 'node:stream'
import { pino, type Logger } from 'pino'

/** A pino logger at `level` whose lines the test reads back, parsed. */
export function capturingLogger(level = 'info'): { lines: Record<string, unknown>[]; logger: Logger } {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  })
  return { lines, logger: pino({ level }, stream) }
}
