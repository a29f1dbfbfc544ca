/** The entries the benchmarks send and seed; plain data, shared by the harness and the baseline server. */

/** The entry every request of the load scenarios sends: 498 bytes of JSON, a typical contact. */
export const BENCH_ENTRY = {
  full_name: 'Margaret Hamilton',
  addresses: [
    {
      kind: 'work',
      building_name: 'Draper2',
      unit_number: 4,
      street_number: '555',
      street_name: 'Technology Sq',
      city: 'Boston',
      province: 'MA',
      pincode: '02139',
      country: 'United States',
    },
  ],
  phone_numbers: [
    { kind: 'work', country_code: 1, area_code: 617, local_number: 2581000 },
    { kind: 'home', country_code: 1, area_code: 617, local_number: 5550147 },
  ],
  emails: [
    { kind: 'work', email: 'mhamilton@draper.example' },
    { kind: 'home', email: 'mh@example.org' },
  ],
}

const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'John', 'Margaret', 'Ken', 'Radia', 'Tim', 'Hedy', 'Linus', 'Niklaus']
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'McCarthy', 'Hamilton', 'Thompson', 'Perlman', 'Lee', 'Lamarr', 'Torvalds', 'Wirth']
const PLACES = [['London', 'United Kingdom'], ['Zürich', 'Switzerland'], ['Bengaluru', 'India'], ['Lagos', 'Nigeria'], ['Austin', 'United States'], ['Kyoto', 'Japan']] as const

/** The index-th entry of a large synthetic book: names repeat every 225 entries, each entry is unique. */
export function entryNumber(index: number) {
  const first = FIRST[index % FIRST.length] ?? 'Ada'
  const last = LAST[Math.floor(index / FIRST.length) % LAST.length] ?? 'Lovelace'
  const [city, country] = PLACES[index % PLACES.length] ?? PLACES[0]
  return {
    full_name: `${first} ${last} ${String(index)}`,
    emails: [{ kind: 'work' as const, email: `${first}.${last}.${String(index)}@example.org`.toLowerCase() }],
    phone_numbers: [{ kind: 'home' as const, country_code: 44, area_code: 20, local_number: 70_000_000 + index }],
    addresses: [{ kind: 'home' as const, street_number: index % 200, street_name: 'High Street', pincode: `P${String(index % 9999)}`, city, country }],
  }
}

/** The first `limit` entries of a book in a Map whose JSON contains `q` (lower case; case-insensitive): a scan, as the reference servers do. */
export function firstMatches(entries: ReadonlyMap<string, unknown>, limit: number, q: string | undefined): Record<string, unknown> {
  const result: Record<string, unknown> = {}
  let count = 0
  for (const [id, entry] of entries) {
    if (count === limit) break
    if (q !== undefined && !JSON.stringify(entry).toLowerCase().includes(q)) continue
    result[id] = entry
    count++
  }
  return result
}
