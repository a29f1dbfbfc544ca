import type { TestContext } from 'node:test'
import type { Authenticator } from '../../src/auth/authenticator.js'
import { buildApp, type App, type AppOptions } from '../../src/http/app.js'
import { AddressBookService } from '../../src/service/address-book-service.js'
import type { AddressBook } from '../../src/service/address-book-service.js'
import { MemoryStore } from '../../src/storage/memory/memory-store.js'
import type { AddressBookStore } from '../../src/storage/store.js'
import { testConfig } from './factories.js'

export interface TestAppOptions extends AppOptions {
  store?: AddressBookStore
  service?: AddressBook
  authenticator?: Authenticator
  config?: Parameters<typeof testConfig>[0]
}

/** A fresh app over a memory store (or the given store or service), closed when the test ends. */
export function buildTestApp(t: TestContext, options: TestAppOptions = {}): App {
  const store = options.store ?? new MemoryStore()
  const config = testConfig(options.config)
  const addressBook = options.service ?? new AddressBookService(store, { requireIfMatch: config.requireIfMatch })
  const app = buildApp(config, { addressBook, authenticator: options.authenticator }, {
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.serveMetrics ? { serveMetrics: options.serveMetrics } : {}),
  })
  t.after(() => app.close())
  return app
}
