import type { TestContext } from 'node:test'
import type { InjectOptions } from 'fastify'
import type { Authenticator } from '../../src/auth/authenticator.js'
import { buildApp, type App, type AppOptions } from '../../src/http/app.js'
import { addressBookFor, historyFor, normalizePhoto } from '../../src/server.js'
import type { AddressBook } from '../../src/service/address-book-service.js'
import { LabelService } from '../../src/service/label-service.js'
import { CardBookService } from '../../src/service/card-book-service.js'
import type { DeviceKeys } from '../../src/service/device-keys.js'
import { MemoryStore } from '../../src/storage/memory/memory-store.js'
import type { AddressBookStore, Clock } from '../../src/storage/store.js'
import { testConfig } from './factories.js'
import { OpenApiConformance } from './openapi-conformance.js'

export interface TestAppOptions extends AppOptions {
  store?: AddressBookStore
  service?: AddressBook
  authenticator?: Authenticator
  /** The callers' own keys, served at /keys (with an authenticator). */
  deviceKeys?: DeviceKeys
  config?: Parameters<typeof testConfig>[0]
  /** The clock history and restores read the time from (the store has its own). */
  clock?: Clock
  /** Check every injected response against the app's OpenAPI document (on unless false). */
  conformance?: boolean
}

/** A fresh app over a memory store (or the given store or service), closed when the test ends. */
export function buildTestApp(t: TestContext, options: TestAppOptions = {}): App {
  const store = options.store ?? new MemoryStore()
  const config = testConfig(options.config)
  const addressBook = options.service ?? addressBookFor(store, config)
  const history = historyFor(store, config, options.clock)
  const cardBook = new CardBookService(store, { photos: normalizePhoto, trashKept: history.trashKept })
  const labels = new LabelService(store)
  const app = buildApp(config, { addressBook, cardBook, labels, history, deviceKeys: options.deviceKeys, authenticator: options.authenticator }, {
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.serveMetrics ? { serveMetrics: options.serveMetrics } : {}),
    ...(options.webAppRoot === undefined ? {} : { webAppRoot: options.webAppRoot }),
  })
  t.after(() => app.close())
  if (options.conformance !== false) checkResponses(app)
  return app
}

/** One checker per distinct document: they differ only with the authentication and rate-limit settings. */
const checkers = new Map<string, OpenApiConformance>()

/**
 * Makes every `await app.inject(…)` fail when its response breaks the app's OpenAPI document,
 * so that each test of the API also tests the document. Other forms of inject are left alone.
 */
function checkResponses(app: App): void {
  const inject = app.inject.bind(app)
  let checker: Promise<OpenApiConformance> | undefined
  const conformance = async () => {
    // Read from the app rather than requested, so that no test sees an extra request in its logs or metrics.
    await app.ready()
    const document = JSON.stringify(app.swagger())
    let found = checkers.get(document)
    if (!found) {
      found = new OpenApiConformance(JSON.parse(document) as ConstructorParameters<typeof OpenApiConformance>[0])
      checkers.set(document, found)
    }
    return found
  }
  const checked = async (options: InjectOptions | string) => {
    const response = await inject(options)
    const { method = 'GET', url = '/' } = typeof options === 'string' ? { url: options } : options
    checker ??= conformance()
    const problems = (await checker).problems({ ...response, method, url: typeof url === 'string' ? url : JSON.stringify(url) })
    if (problems.length > 0) throw new Error(`the response breaks the OpenAPI document:\n${problems.join('\n')}`)
    return response
  }
  app.inject = ((options?: InjectOptions | string, callback?: unknown) =>
    options === undefined || callback !== undefined ? (inject as (...a: unknown[]) => unknown)(options, callback) : checked(options)) as App['inject']
}
