import type { AddressEntry } from '../../src/domain/address-entry.js'
import type { Principal } from '../../src/domain/principal.js'
import type { AddressBook } from '../../src/service/address-book-service.js'

interface Call {
  method: keyof AddressBook
  args: unknown[]
}

/**
 * An AddressBook whose answers the test decides: each method resolves with the configured
 * value or rejects with the configured error, and every call is recorded (the principal apart,
 * in `principals`).
 */
export class StubAddressBook implements AddressBook {
  readonly calls: Call[] = []
  readonly principals: Principal[] = []
  failure: Error | undefined
  createdId = '01890a5d4b8e7bd2a0f0c3b1d2e3f405'
  entry: AddressEntry = { full_name: 'Stubbed Entry' }
  entries: Record<string, AddressEntry> = {}

  constructor(overrides: Partial<Pick<StubAddressBook, 'failure' | 'createdId' | 'entry' | 'entries' | 'notReady' | 'hangs'>> = {}) {
    Object.assign(this, overrides)
  }

  create(principal: Principal, value: unknown): Promise<string> {
    return this.#answer(principal, 'create', [value], this.createdId)
  }

  get(principal: Principal, id: string): Promise<AddressEntry> {
    return this.#answer(principal, 'get', [id], this.entry)
  }

  update(principal: Principal, id: string, value: unknown): Promise<void> {
    return this.#answer(principal, 'update', [id, value], undefined)
  }

  delete(principal: Principal, id: string): Promise<void> {
    return this.#answer(principal, 'delete', [id], undefined)
  }

  list(principal: Principal): Promise<Record<string, AddressEntry>> {
    return this.#answer(principal, 'list', [], this.entries)
  }

  /** Ready unless `notReady` says otherwise; not recorded, since probes are not address book calls. */
  notReady: Error | undefined
  /** When set, readiness never settles: a store that hangs. */
  hangs = false

  ready(): Promise<void> {
    if (this.hangs) return new Promise(() => undefined)
    return this.notReady ? Promise.reject(this.notReady) : Promise.resolve()
  }

  #answer<T>(principal: Principal, method: keyof AddressBook, args: unknown[], value: T): Promise<T> {
    this.principals.push(principal)
    this.calls.push({ method, args })
    return this.failure ? Promise.reject(this.failure) : Promise.resolve(value)
  }
}
