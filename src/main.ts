#!/usr/bin/env node
import { createRequire } from 'node:module'

const { version } = createRequire(import.meta.url)('../package.json') as { version: string }

/**
 * The executable: reads the command line and hands over to the command. The commands load
 * their modules when they run, so that --help and --version start nothing else.
 * Exit codes: 0 done, 1 failed while running, 2 bad command line or configuration.
 */
async function main(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number | undefined> {
  // The two questions asked alone are answered before anything else is loaded.
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
    process.stdout.write(`addrservice ${version}\n`)
    return 0
  }
  if (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) {
    process.stdout.write((await import('./usage.js')).USAGE)
    return 0
  }
  const [{ parseCommandLine, UsageError }, { ConfigError, loadConfig }] = await Promise.all([import('./cli.js'), import('./config/load.js')])
  let command
  let config
  try {
    command = parseCommandLine(args)
    if (command.action === 'help') {
      process.stdout.write(command.usage)
      return 0
    }
    if (command.action === 'version') {
      process.stdout.write(`addrservice ${version}\n`)
      return 0
    }
    config = loadConfig({ flags: command.flags, env })
  } catch (error) {
    if (error instanceof UsageError) return fail(2, `${error.message} (see --help)`)
    if (error instanceof ConfigError) return fail(2, `invalid configuration: ${error.message}`)
    throw error
  }

  if (command.action === 'keys') {
    const { runKeys } = await import('./commands/keys.js')
    return runKeys(command.command, config, { stdout: process.stdout, fail })
  }
  const [{ runServe }, { createLogger }] = await Promise.all([import('./commands/serve.js'), import('./logging.js')])
  return runServe(config, await createLogger(config.logging, config.service.name), version, fail)
}

function fail(code: number, message: string): number {
  process.stderr.write(`addrservice: ${message}\n`)
  return code
}

const exitCode = await main(process.argv.slice(2), process.env)
if (exitCode !== undefined) process.exit(exitCode)
