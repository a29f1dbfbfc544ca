import type { AddressEntry } from '../../src/domain/address-entry.js'
import { DEFAULT_CONFIG } from '../../src/config/load.js'
import type { Config } from '../../src/config/settings.js'

/** The smallest valid entry, with overrides. */
export function anEntry(overrides: Partial<AddressEntry> = {}): AddressEntry {
  return { full_name: 'Ada Lovelace', ...overrides }
}

/** An entry that uses every field of the schema, with overrides. */
export function aFullEntry(overrides: Partial<AddressEntry> = {}): AddressEntry {
  return {
    full_name: 'Grace Hopper',
    addresses: [
      {
        kind: 'work',
        building_name: 'Harbor Point',
        unit_number: 12,
        street_number: '221B',
        street_name: 'Ocean Drive',
        locality: 'Bayside',
        city: 'Port Ellis',
        province: 'Westshire',
        pincode: 'WS1 2AB',
        country: 'Freedonia',
      },
      { kind: 'home', street_number: 7, street_name: 'Elm Row', pincode: 560001, country: 'Freedonia' },
    ],
    phone_numbers: [
      { kind: 'home', country_code: 44, area_code: 20, local_number: 79460000 },
      { kind: 'mobile', country_code: 44, area_code: 7700, local_number: 900123 },
    ],
    fax_numbers: [{ kind: 'work', country_code: 1, local_number: 5550100 }],
    emails: [
      { kind: 'work', email: 'grace@example.org' },
      { kind: 'other', email: 'amazing.grace@example.net' },
    ],
    nickname: 'Amazing Grace',
    organization: 'Freedonia Navy',
    job_title: 'Rear Admiral',
    birthday: '1906-12-09',
    notes: 'Met at the harbor.\nPrefers email.',
    urls: ['https://example.org/grace'],
    ...overrides,
  }
}

/** The built-in configuration with an in-memory store, quiet, and any overrides. */
export function testConfig(overrides: Partial<Omit<Config, 'server'>> & { server?: Partial<Config['server']> } = {}): Config {
  return {
    ...DEFAULT_CONFIG,
    ...overrides,
    store: overrides.store ?? { kind: 'memory' },
    logging: overrides.logging ?? { level: 'silent', format: 'json', file: null },
    server: { ...DEFAULT_CONFIG.server, ...overrides.server },
  }
}

/** An entry whose JSON is over the 1 KiB from which responses are compressed. */
export function aLargeEntry(): AddressEntry {
  const entry = aFullEntry()
  return { ...entry, addresses: [...(entry.addresses ?? []), ...(entry.addresses ?? []), ...(entry.addresses ?? [])] }
}
