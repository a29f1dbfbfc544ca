import { parseArgs } from 'node:util'
import type { ConfigFlags } from './config.js'

export const USAGE = `Usage: addrservice [options]

Serves the address book REST API.

Options:
  -p, --port PORT      port to listen on (default 8080; 0 picks a free one)
      --host HOST      address to listen on (default 127.0.0.1)
  -c, --config FILE    YAML configuration file
      --db URL         store: memory:, sqlite:PATH or postgres://HOST/DB
                       (default sqlite:./var/addressbook.db)
  -w, --workers N      serve from N processes sharing the port, or auto (one per CPU)
  -d, --debug          include stack traces in error responses (never in production)
  -h, --help           show this help and exit
  -v, --version        print the version and exit

Environment (below flags, above the config file):
  ADDRSERVICE_PORT, ADDRSERVICE_HOST, ADDRSERVICE_DB (or DATABASE_URL), ADDRSERVICE_WORKERS,
  ADDRSERVICE_LOG_LEVEL
`

export type CliCommand = { action: 'help' } | { action: 'version' } | { action: 'serve'; flags: ConfigFlags }

/** A command line that cannot be understood; the message is one line. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

export function parseCommandLine(args: readonly string[]): CliCommand {
  let values
  try {
    ;({ values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string', short: 'p' },
        host: { type: 'string' },
        config: { type: 'string', short: 'c' },
        db: { type: 'string' },
        workers: { type: 'string', short: 'w' },
        debug: { type: 'boolean', short: 'd' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    }))
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    throw new UsageError(message.split('\n')[0] ?? message)
  }
  if (values.help === true) return { action: 'help' }
  if (values.version === true) return { action: 'version' }
  const { port, host, config, db, workers, debug } = values
  return { action: 'serve', flags: { port, host, config, db, workers, debug } }
}
