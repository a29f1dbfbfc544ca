import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseCommandLine, UsageError, USAGE } from '../../src/cli.js'

describe('parseCommandLine', () => {
  test('when there are no arguments, then serve with no flags set', () => {
    assert.deepEqual(parseCommandLine([]), {
      action: 'serve',
      flags: { port: undefined, host: undefined, config: undefined, db: undefined, workers: undefined, debug: undefined, auth: undefined },
    })
  })

  test('when the long flags are given, then each is passed on', () => {
    const command = parseCommandLine(['--port', '9000', '--host', '0.0.0.0', '--config', 'a.yaml', '--db', 'memory:', '--workers', 'auto', '--debug'])

    assert.deepEqual(command, {
      action: 'serve',
      flags: { port: '9000', host: '0.0.0.0', config: 'a.yaml', db: 'memory:', workers: 'auto', debug: true, auth: undefined },
    })
  })

  test('when the short flags are given, then they mean the same', () => {
    const command = parseCommandLine(['-p', '9000', '-c', 'a.yaml', '-w', '2', '-d'])

    assert.deepEqual(command, {
      action: 'serve',
      flags: { port: '9000', host: undefined, config: 'a.yaml', db: undefined, workers: '2', debug: true, auth: undefined },
    })
  })

  test('when a flag is given twice, then the last one wins (so npm start -- -c other.yaml works)', () => {
    const command = parseCommandLine(['--config', 'configs/addressbook-local.yaml', '-c', 'other.yaml'])

    assert.equal(command.action === 'serve' && command.flags.config, 'other.yaml')
  })

  for (const flag of ['--help', '-h']) {
    test(`when ${flag} is given, then help, whatever else is there`, () => {
      assert.deepEqual(parseCommandLine(['--port', '1', flag]), { action: 'help', usage: USAGE })
    })
  }

  for (const flag of ['--version', '-v']) {
    test(`when ${flag} is given, then version`, () => {
      assert.deepEqual(parseCommandLine([flag]), { action: 'version' })
    })
  }

  for (const [name, args, pattern] of [
    ['an unknown option', ['--frobnicate'], /--frobnicate/],
    ['a missing value', ['--port'], /--port/],
    ['a positional argument', ['frobnicate'], /frobnicate/],
  ] as const) {
    test(`when the command line has ${name}, then a one-line UsageError`, () => {
      assert.throws(
        () => parseCommandLine([...args]),
        (error: unknown) => error instanceof UsageError && pattern.test(error.message) && !error.message.includes('\n'),
      )
    })
  }

  test('when help is printed, then it names every flag and environment variable', () => {
    for (const word of ['--port', '-p', '--host', '--config', '-c', '--db', '--debug', '-d', '--workers', '-w', '--help', '--version', 'ADDRSERVICE_PORT', 'ADDRSERVICE_WORKERS', 'DATABASE_URL', 'ADDRSERVICE_HOST', 'ADDRSERVICE_DB', 'ADDRSERVICE_LOG_LEVEL']) {
      assert.ok(USAGE.includes(word), word)
    }
  })

  test('when npm start puts its --config before the keys command, then it is the keys command with that config', () => {
    assert.deepEqual(parseCommandLine(['--config', 'configs/addressbook-local.yaml', 'keys', 'list', '--owner', 'alice']), {
      action: 'keys',
      command: { verb: 'list', owner: 'alice' },
      flags: { config: 'configs/addressbook-local.yaml', db: undefined },
    })
  })

  test('when serve is named, then it is the same as no command', () => {
    assert.deepEqual(parseCommandLine(['serve', '-p', '1']), parseCommandLine(['-p', '1']))
    assert.deepEqual(parseCommandLine(['-c', 'a.yaml', 'serve']), parseCommandLine(['-c', 'a.yaml']))
  })

  test('when keys create is given an owner, scope and label, then each is passed on; the scope defaults to write', () => {
    assert.deepEqual(parseCommandLine(['keys', 'create', '--owner', 'bob', '--label', 'laptop', '--db', 'sqlite:x.db']), {
      action: 'keys',
      command: { verb: 'create', owner: 'bob', scope: 'write', label: 'laptop' },
      flags: { config: undefined, db: 'sqlite:x.db' },
    })
  })
})
