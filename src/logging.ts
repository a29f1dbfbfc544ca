import { pino, type Logger } from 'pino'
import type { LoggingConfig } from './config/settings.js'

/** The service's one logger: JSON lines by default, human-readable with `format: pretty`. */
export async function createLogger(config: LoggingConfig, name: string): Promise<Logger> {
  const options = {
    name,
    level: config.level,
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: pino.stdSerializers.err },
  }
  const destination = config.file ?? 1
  if (config.format === 'pretty') {
    // Loaded only for people reading logs at a terminal, to keep start-up short.
    const { default: pretty } = await import('pino-pretty')
    return pino(options, pretty({ destination, mkdir: true, colorize: config.file === null && process.stdout.isTTY }))
  }
  return pino(options, pino.destination({ dest: destination, mkdir: true, sync: false }))
}
