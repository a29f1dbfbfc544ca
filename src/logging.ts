import { pino, type Logger } from 'pino'
import pretty from 'pino-pretty'
import type { LoggingConfig } from './config/settings.js'

/** The service's one logger: JSON lines by default, human-readable with `format: pretty`. */
export function createLogger(config: LoggingConfig, name: string): Logger {
  const options = {
    name,
    level: config.level,
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: pino.stdSerializers.err },
  }
  const destination = config.file ?? 1
  if (config.format === 'pretty') {
    return pino(options, pretty({ destination, mkdir: true, colorize: config.file === null && process.stdout.isTTY }))
  }
  return pino(options, pino.destination({ dest: destination, mkdir: true, sync: false }))
}
