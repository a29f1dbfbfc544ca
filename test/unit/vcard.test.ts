import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import ICAL from 'ical.js'
import { validateAddressEntry, type AddressEntry, type UnmappedProperty } from '../../src/domain/address-entry.js'
import { formatPhoneNumber, readPhoneNumber } from '../../src/formats/phone-number.js'
import { formatVCard, parseVCards, VCardSyntaxError, type ParsedCard, type VCardVersion } from '../../src/formats/vcard.js'
import { aFullEntry, anEntry } from '../helpers/factories.js'

const VERSIONS: readonly VCardVersion[] = ['4.0', '3.0']
const fixtures = new URL('../fixtures/vcard/', import.meta.url)
const fixture = (name: string) => readFileSync(new URL(name, fixtures), 'utf8')

/** A card of the given version around the given lines, CRLF as most apps write. */
const aCard = (version: string, ...lines: string[]) => ['BEGIN:VCARD', `VERSION:${version}`, ...lines, 'END:VCARD', ''].join('\r\n')

function onlyCard(text: string): ParsedCard {
  const cards = parseVCards(text)
  assert.equal(cards.length, 1)
  const [card] = cards
  assert.ok(card)
  return card
}

/** The entry and the unmapped properties of a card of the given lines. */
const read = (version: string, ...lines: string[]) => onlyCard(aCard(version, ...lines))

/** Property and value of each unmapped property, values cut short, for lists that read at a glance. */
const listed = (unmapped: readonly UnmappedProperty[]) =>
  unmapped.map(({ property, value }) => [property, value.length > 40 ? `${value.slice(0, 40)}…` : value])

function thrown(text: string): VCardSyntaxError {
  try {
    parseVCards(text)
  } catch (error) {
    assert.ok(error instanceof VCardSyntaxError, String(error))
    return error
  }
  assert.fail('parseVCards did not throw')
}

describe('vCard exports of contacts apps', () => {
  const expected: Record<string, { line: number; id?: string; entry: AddressEntry; unmapped: string[][] }[]> = {
    'apple-ios.vcf': [
      {
        line: 1,
        entry: {
          full_name: 'Grace Hopper',
          addresses: [
            {
              kind: 'work',
              street_number: '221B',
              street_name: 'Ocean Drive',
              locality: 'Bayside',
              city: 'Port Ellis',
              province: 'Westshire',
              pincode: 'WS1 2AB',
              country: 'Freedonia',
            },
          ],
          phone_numbers: [
            { kind: 'home', country_code: 44, local_number: 2079460000 },
            { kind: 'mobile', country_code: 44, local_number: 7700900123 },
            { kind: 'other', country_code: 1, area_code: 555, local_number: 8675309 },
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
        },
        unmapped: [
          ['N', 'Hopper;Grace;Brewster;;'],
          ['X-ABLABEL', 'Boat'],
          ['TEL', '(555) 010-9999'],
          ['X-ABADR', 'gb'],
          ['X-ABRELATEDNAMES', 'Walter Murray'],
          ['X-ABLABEL', '_$!<Father>!$_'],
          ['X-SOCIALPROFILE', 'https://twitter.com/gracehopper'],
          ['IMPP', 'skype:grace.hopper'],
        ],
      },
      {
        line: 32,
        entry: {
          full_name: 'Harbor Robotics',
          phone_numbers: [{ kind: 'other', country_code: 852, local_number: 21234567 }],
          emails: [{ kind: 'work', email: 'hello@example.com' }],
          organization: 'Harbor Robotics',
        },
        unmapped: [
          ['X-ABLABEL', '_$!<Main>!$_'],
          ['X-ABSHOWAS', 'COMPANY'],
        ],
      },
      {
        line: 44,
        entry: { full_name: 'Sam Okafor', phone_numbers: [{ kind: 'mobile', country_code: 234, local_number: 8031234567 }], birthday: '--02-29' },
        unmapped: [],
      },
    ],
    'apple-macos.vcf': [
      {
        line: 1,
        entry: JSON.parse(readFileSync(new URL('../../data/addresses/lin-chen.json', import.meta.url), 'utf8')) as AddressEntry,
        unmapped: [
          ['ORG', 'Research'],
          ['X-ABADR', 'hk'],
          ['X-ABUID', '5AD380FD-B2DE-4261-BA99-DE1D1DB52FBE:ABP…'],
        ],
      },
    ],
    'google.vcf': [
      {
        line: 1,
        entry: {
          full_name: 'Jonas Becker',
          addresses: [{ kind: 'work', building_name: 'Hafenhaus', street_name: 'Am Kaiserkai 12a', city: 'Hamburg', pincode: 20457, country: 'Germany' }],
          phone_numbers: [
            { kind: 'work', country_code: 49, local_number: 4055501234 },
            { kind: 'other', country_code: 49, local_number: 15123456789 },
          ],
          fax_numbers: [{ kind: 'work', country_code: 49, local_number: 4055501235 }],
          emails: [{ kind: 'work', email: 'j.becker@example.net' }],
          organization: 'Hafen Logistik',
          job_title: 'Dispatcher',
        },
        unmapped: [
          ['X-ABLABEL', 'Boat'],
          ['CATEGORIES', 'myContacts'],
        ],
      },
      {
        line: 15,
        entry: {
          full_name: 'Maria Santos',
          addresses: [
            { kind: 'home', street_name: 'Rua das Flores, 350', locality: 'Cedofeita', city: 'Porto', pincode: '4050-262', country: 'Portugal' },
          ],
          phone_numbers: [{ kind: 'mobile', country_code: 351, local_number: 912345678 }],
          emails: [
            { kind: 'home', email: 'maria.santos@example.org' },
            { kind: 'work', email: 'm.santos@example.com' },
          ],
          nickname: 'Mia',
          birthday: '--03-15',
          notes: 'Knows everyone at the market, and their prices.',
          urls: ['https://example.org/maria'],
          labels: ['Starred in Android'],
        },
        unmapped: [
          ['TEL', '912 345 678'],
          ['ADR', ';;Avenida da Boavista 1277;Porto;;;Portu…'],
          ['X-ABDATE', '2015-06-20'],
          ['X-ABLABEL', '_$!<Anniversary>!$_'],
          ['CATEGORIES', 'myContacts'],
        ],
      },
    ],
    'outlook.vcf': [
      {
        line: 1,
        entry: {
          full_name: 'Dr. Jürgen Müller',
          addresses: [
            {
              kind: 'work',
              street_name: 'Straße des 17. Juni 12',
              locality: 'Hinterhaus',
              city: 'München',
              province: 'Bayern',
              pincode: 80331,
              country: 'Deutschland',
            },
          ],
          phone_numbers: [
            { kind: 'work', country_code: 49, area_code: 89, local_number: 1234567 },
            { kind: 'mobile', country_code: 49, local_number: 1712345678 },
          ],
          fax_numbers: [{ kind: 'work', country_code: 49, area_code: 89, local_number: 1234568 }],
          emails: [{ kind: 'other', email: 'j.mueller@example.de' }],
          organization: 'Müller & Söhne GmbH',
          job_title: 'Geschäftsführer',
          birthday: '1965-04-12',
          notes: 'Trifft man im Café am Hafen, meist dienstags.\nLängere Anfahrt; bitte vorher anrufen.',
          urls: ['https://example.de/mueller'],
        },
        unmapped: [
          ['ORG', 'Vertrieb'],
          ['TEL', '089 7654321'],
          ['LABEL', 'Straße des 17. Juni 12\nMünchen, Bayern 8…'],
          ['X-MS-OL-DEFAULT-POSTAL-ADDRESS', '2'],
          ['URL', 'https://example.de/mueller'],
          ['X-MS-OL-DESIGN', '<card xmlns="http://schemas.microsoft.co…'],
        ],
      },
      {
        line: 28,
        entry: {
          full_name: 'François Dupont',
          addresses: [{ kind: 'home', street_number: 12, street_name: "rue de l'Église", city: 'Lyon', pincode: 69002, country: 'France' }],
          phone_numbers: [{ kind: 'home', country_code: 33, local_number: 612345678 }],
          emails: [{ kind: 'other', email: 'francois@example.fr' }],
        },
        unmapped: [],
      },
    ],
    'thunderbird.vcf': [
      {
        line: 1,
        id: '2d3e0a9f-2c52-4d1c-a0b8-6d1f2e3a4b5c',
        entry: {
          full_name: 'Ada Lovelace',
          addresses: [
            { kind: 'home', street_number: 12, street_name: "St James's Square", city: 'London', pincode: 'SW1Y 4JH', country: 'United Kingdom' },
            {
              kind: 'work',
              building_name: 'Suite 5',
              street_number: 1,
              street_name: 'Infinite Loop',
              city: 'Cupertino',
              province: 'CA',
              pincode: 95014,
              country: 'USA',
            },
          ],
          phone_numbers: [
            { kind: 'work', country_code: 44, area_code: 20, local_number: 79460001 },
            { kind: 'mobile', country_code: 44, local_number: 7700900456 },
          ],
          fax_numbers: [{ kind: 'other', country_code: 44, area_code: 20, local_number: 79460002 }],
          emails: [
            { kind: 'other', email: 'ada@example.org' },
            { kind: 'home', email: 'ada.home@example.com' },
          ],
          nickname: 'Enchantress of Numbers',
          organization: 'Analytical Society',
          job_title: 'Mathematician',
          birthday: '1815-12-10',
          notes: 'Wrote the first program, for the Analytical Engine.',
          urls: ['https://example.org/ada'],
        },
        unmapped: [
          ['ORG', 'Programming'],
          ['TEL', 'tel:+44-20-7946-0003;ext=12'],
          ['ANNIVERSARY', '1835-07-08'],
        ],
      },
      {
        line: 22,
        id: '5f0c9e2a-7d1b-4c3e-9a8f-1b2c3d4e5f60',
        entry: { full_name: 'Charles Babbage', emails: [{ kind: 'other', email: 'charles@example.org' }], birthday: '--12-26' },
        unmapped: [],
      },
    ],
  }

  test('when the fixtures are listed, then each has its expectations here', () => {
    assert.deepEqual(readdirSync(fixtures).filter((name) => name.endsWith('.vcf')).sort(), Object.keys(expected).sort())
  })

  for (const [name, cards] of Object.entries(expected)) {
    describe(name, () => {
      const parsed = parseVCards(fixture(name))

      test('when it is read, then every card maps to the entry its app meant, at its index and line', () => {
        assert.deepEqual(
          parsed.map(({ index, line, id, entry }) => ({ index, line, id, entry })),
          cards.map(({ line, id, entry }, position) => ({ index: position + 1, line, id, entry })),
        )
      })

      test('when it is read, then every mapped entry is valid', () => {
        for (const card of parsed) assert.deepEqual(validateAddressEntry(card.entry), [], `card ${card.index}`)
      })

      test('when it is read, then what has no place in an entry is listed with its card', () => {
        assert.deepEqual(
          parsed.map((card) => listed(card.unmapped)),
          cards.map((card) => card.unmapped),
        )
      })

      for (const version of VERSIONS) {
        test(`when its entries are written as vCard ${version} and read again, then they are the same entries, with nothing unmapped`, () => {
          for (const card of parsed) {
            const id = card.id ?? `card-${card.index}`

            const again = onlyCard(formatVCard({ id, entry: card.entry as AddressEntry }, version))

            assert.deepEqual(again.entry, card.entry)
            assert.equal(again.id, id)
            assert.deepEqual(again.unmapped, [])
          }
        })
      }
    })
  }
})

describe('formatVCard', () => {
  for (const version of VERSIONS) {
    test(`when aFullEntry is written as vCard ${version} and read again, then it is the same entry with its id`, () => {
      const card = onlyCard(formatVCard({ id: '0190f1e2d3c4b5a6978877665544332a', entry: aFullEntry(), updatedAt: '2024-05-06T07:08:09.123Z' }, version))

      assert.deepEqual(card.entry, aFullEntry())
      assert.equal(card.id, '0190f1e2d3c4b5a6978877665544332a')
      assert.deepEqual(card.unmapped, [])
    })

    const data = new URL('../../data/addresses/', import.meta.url)
    for (const file of readdirSync(data).filter((name) => name.endsWith('.json'))) {
      test(`when data/addresses/${file} is written as vCard ${version} and read again, then it is the same entry`, () => {
        const entry = JSON.parse(readFileSync(new URL(file, data), 'utf8')) as AddressEntry

        assert.deepEqual(onlyCard(formatVCard({ id: 'a1', entry }, version)).entry, entry)
      })
    }

    test(`when pincode and street number are text made of digits, then vCard ${version} gives them back as text`, () => {
      const entry = anEntry({ addresses: [{ kind: 'home', street_number: '7', street_name: 'Elm Row', pincode: '02134', country: 'USA' }] })
      const digits = anEntry({ addresses: [{ kind: 'home', street_number: '7', street_name: 'Elm Row', pincode: '20457', country: 'Germany' }] })

      assert.deepEqual(onlyCard(formatVCard({ id: 'a1', entry }, version)).entry, entry)
      assert.deepEqual(onlyCard(formatVCard({ id: 'a1', entry: digits }, version)).entry, digits)
    })

    test(`when text holds vCard's special characters, then vCard ${version} gives it back as it was`, () => {
      const special = 'a;b,c\\d\\;e\\nf:g "h" ^i\nj'
      const entry = anEntry({
        full_name: special,
        nickname: special,
        organization: special,
        job_title: special,
        notes: special,
        emails: [{ kind: 'home', email: 'a,b@example.org' }],
        urls: ['https://example.org/a;b,c?d=e'],
        addresses: [
          { kind: 'home', building_name: special, street_number: 'No. 5;6', street_name: special, locality: special, pincode: 'a;b', country: special },
          { kind: 'work', street_name: '5 Dials', city: special, province: special, pincode: ' 1 ', country: ' Freedonia ' },
        ],
      })

      const card = onlyCard(formatVCard({ id: 'a1', entry }, version))

      assert.deepEqual(card.entry, entry)
      assert.deepEqual(card.unmapped, [])
    })

    test(`when an entry is written as vCard ${version}, then ical.js reads the whole card as Thunderbird would`, () => {
      const card = new ICAL.Component(ICAL.parse(formatVCard({ id: 'a1', entry: aFullEntry() }, version)) as unknown[])

      assert.equal(card.getFirstPropertyValue('fn'), 'Grace Hopper')
      assert.equal(card.getAllProperties('tel').length, 3)
      assert.deepEqual(card.getFirstProperty('adr')?.getFirstValue(), [
        '',
        'Unit 12, Harbor Point',
        '221B Ocean Drive\nBayside',
        'Port Ellis',
        'Westshire',
        'WS1 2AB',
        'Freedonia',
      ])
    })

    test(`when text has CRLF line breaks, then vCard ${version} writes \\n and they come back as LF (vCard has no escape for CR)`, () => {
      const card = onlyCard(formatVCard({ id: 'a1', entry: anEntry({ notes: 'one\r\ntwo\rthree' }) }, version))

      assert.equal(card.entry.notes, 'one\ntwo\nthree')
    })

    test(`when an entry is written as vCard ${version}, then lines end in CRLF and VERSION follows BEGIN`, () => {
      const text = formatVCard({ id: 'a1', entry: aFullEntry() }, version)

      assert.ok(text.startsWith(`BEGIN:VCARD\r\nVERSION:${version}\r\n`))
      assert.ok(text.endsWith('END:VCARD\r\n'))
      assert.doesNotMatch(text, /[^\r]\n|\r[^\n]/)
    })
  }

  test('when a line is longer than 75 octets of UTF-8, then it is folded between characters and reads back the same', () => {
    const notes = `${'Ünïcödé '.repeat(12)}${'名前'.repeat(30)}${'🧭'.repeat(25)} end`
    const entry = anEntry({ notes, full_name: 'x'.repeat(200) })

    const text = formatVCard({ id: 'a1', entry }, '4.0')

    const lines = text.split('\r\n').slice(0, -1)
    for (const line of lines) {
      assert.ok(Buffer.byteLength(line) <= 75, `${Buffer.byteLength(line)} octets: ${line}`)
      assert.doesNotMatch(line, /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/)
    }
    assert.ok(lines.filter((line) => line.startsWith(' ')).length > 5)
    assert.deepEqual(onlyCard(text).entry, entry)
  })

  test('when the entry has phone numbers, then 4.0 writes tel URIs and 3.0 text, the area code in parentheses', () => {
    const entry = anEntry({
      phone_numbers: [{ kind: 'mobile', country_code: 44, area_code: 7700, local_number: 900123 }],
      fax_numbers: [{ kind: 'other', country_code: 1, local_number: 5550100 }],
    })

    assert.match(formatVCard({ id: 'a1', entry }, '4.0'), /\r\nTEL;VALUE=uri;TYPE=cell:tel:\+44-\(7700\)-900123\r\nTEL;VALUE=uri;TYPE=fax:tel:\+1-5550100\r\n/)
    assert.match(formatVCard({ id: 'a1', entry }, '3.0'), /\r\nTEL;TYPE=CELL:\+44 \(7700\) 900123\r\nTEL;TYPE=FAX:\+1 5550100\r\n/)
  })

  test('when the birthday has no year, then 4.0 writes --MMDD and 3.0 the year Apple omits, and both read back', () => {
    const entry = anEntry({ birthday: '--02-29' })

    const v4 = formatVCard({ id: 'a1', entry }, '4.0')
    const v3 = formatVCard({ id: 'a1', entry }, '3.0')

    assert.match(v4, /\r\nBDAY:--0229\r\n/)
    assert.match(v3, /\r\nBDAY;X-APPLE-OMIT-YEAR=1604:1604-02-29\r\n/)
    assert.equal(onlyCard(v4).entry.birthday, '--02-29')
    assert.equal(onlyCard(v3).entry.birthday, '--02-29')
  })

  test('when the entry has a birthday with a year, then 4.0 writes it in the basic format and 3.0 in the extended', () => {
    assert.match(formatVCard({ id: 'a1', entry: anEntry({ birthday: '1815-12-10' }) }, '4.0'), /\r\nBDAY:18151210\r\n/)
    assert.match(formatVCard({ id: 'a1', entry: anEntry({ birthday: '1815-12-10' }) }, '3.0'), /\r\nBDAY:1815-12-10\r\n/)
  })

  test('when updatedAt is given, then REV is written from it; without it, there is no REV', () => {
    const card = { id: 'a1', entry: anEntry(), updatedAt: '2024-05-06T07:08:09.123Z' }

    assert.match(formatVCard(card, '4.0'), /\r\nREV:20240506T070809Z\r\n/)
    assert.match(formatVCard(card, '3.0'), /\r\nREV:2024-05-06T07:08:09Z\r\n/)
    assert.doesNotMatch(formatVCard({ id: 'a1', entry: anEntry() }, '4.0'), /REV/)
  })

  test('when updatedAt is not a time, then formatVCard throws a RangeError', () => {
    assert.throws(() => formatVCard({ id: 'a1', entry: anEntry(), updatedAt: 'yesterday' }, '4.0'), RangeError)
  })

  test('when an address has what vCard has no place for, then other apps still see it in the ADR and we read it from X- parameters', () => {
    const text = formatVCard({ id: 'a1', entry: aFullEntry() }, '4.0').replaceAll('\r\n ', '')

    assert.match(
      text,
      /\r\nADR;TYPE=work;X-STREET-NUMBER=221B;X-UNIT-NUMBER=12;X-BUILDING-NAME=Harbor Point;X-LOCALITY=Bayside:;Unit 12\\, Harbor Point;221B Ocean Drive\\nBayside;Port Ellis;Westshire;WS1 2AB;Freedonia\r\n/,
    )
  })

  test('when the full name has several words, then N has the last as family name; 4.0 text has no escaped semicolons', () => {
    const text = formatVCard({ id: 'a1', entry: anEntry({ full_name: 'Ada King; Countess of Lovelace' }) }, '4.0')

    assert.match(text, /\r\nFN:Ada King; Countess of Lovelace\r\nN:Lovelace;Ada King\\; Countess of;;;\r\n/)
  })
})

describe('parseVCards: the text', () => {
  test('when lines end in LF only, then the card reads as with CRLF', () => {
    assert.deepEqual(onlyCard(aCard('3.0', 'FN:Ada Lovelace').replaceAll('\r\n', '\n')).entry, { full_name: 'Ada Lovelace' })
  })

  test('when lines end in \\r\\r\\n, as some phones write, then each is one line break', () => {
    const text = aCard('3.0', 'FN:Ada', ' Lovelace', 'NOTE:first').replaceAll('\r\n', '\r\r\n')

    const card = onlyCard(text)

    assert.deepEqual(card.entry, { full_name: 'AdaLovelace', notes: 'first' })
    assert.equal(card.line, 1)
  })

  test('when lines are folded with a space or a tab, then unfolding removes the line break and one white space character', () => {
    assert.deepEqual(read('4.0', 'FN:Ada Lo', ' velace', 'NOTE:one', '\t two').entry, { full_name: 'Ada Lovelace', notes: 'one two' })
  })

  test('when the text starts with a byte order mark and cards are separated by blank lines, then every card is read', () => {
    const text = `\uFEFF${aCard('3.0', 'FN:Ada')}\r\n\r\n${aCard('4.0', 'FN:Grace')}`

    assert.deepEqual(
      parseVCards(text).map(({ index, line, entry }) => ({ index, line, entry })),
      [
        { index: 1, line: 1, entry: { full_name: 'Ada' } },
        { index: 2, line: 7, entry: { full_name: 'Grace' } },
      ],
    )
  })

  test('when a 2.1 quoted-printable soft line break falls inside a multi-byte character, then the character is whole', () => {
    const card = read('2.1', 'FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Caf=C3=', '=A9 M=C3=BC=', 'ller')

    assert.equal(card.entry.full_name, 'Café Müller')
  })

  test('when a 2.1 quoted-printable value is in another CHARSET, then it is decoded in that charset', () => {
    assert.equal(read('2.1', 'FN;ENCODING=QUOTED-PRINTABLE;CHARSET=ISO-8859-1:Fran=E7ois').entry.full_name, 'François')
  })

  test('when a 2.1 value has commas and backslashes, then they are text, and \\; is a semicolon', () => {
    assert.deepEqual(read('2.1', 'FN:Smith, Jr. \\ Sons', 'NICKNAME:a, b', 'NOTE:x\\;y').entry, {
      full_name: 'Smith, Jr. \\ Sons',
      nickname: 'a, b',
      notes: 'x;y',
    })
  })

  test('when 3.0 text escapes semicolons, then they are semicolons (ical.js unescapes them only in structured values)', () => {
    assert.equal(read('3.0', 'FN:Ada', 'NOTE:a\\;b\\\\;c').entry.notes, 'a;b\\;c')
  })

  test('when a 2.1 PHOTO has its base64 data on unindented lines and a blank line, then the properties after it are read', () => {
    const card = read('2.1', 'FN:Ada', 'PHOTO;JPEG;BASE64:', '/9j/4AAQSkZJ', 'RgABAQ==', '', 'NOTE:after the photo')

    assert.deepEqual(card.entry, { full_name: 'Ada', notes: 'after the photo' })
    assert.deepEqual(card.photo, Buffer.from('/9j/4AAQSkZJRgABAQ==', 'base64'))
    assert.deepEqual(card.unmapped, [])
  })

  for (const [name, lines] of [
    ['folded', ['NOTE:start', ...Array.from({ length: 100_000 }, () => ' abc')]],
    ['quoted-printable with soft line breaks', ['X-NOTE;ENCODING=QUOTED-PRINTABLE:=', ...Array.from({ length: 100_000 }, () => 'abc='), 'end']],
    ['labelled in 20 000 groups', Array.from({ length: 20_000 }, (_, item) => `item${item}.X-ABLabel:x`)],
  ] as const) {
    test(`when a card is ${name}, then it is read in linear time (a quadratic reading took seconds)`, () => {
      const text = aCard('2.1', 'FN:Ada', ...lines)
      const started = performance.now()

      const card = onlyCard(text)

      assert.ok(performance.now() - started < 2000)
      assert.equal(card.entry.full_name, 'Ada')
    })
  }

  test('when a card has no VERSION, then it is read as 3.0', () => {
    assert.deepEqual(onlyCard('BEGIN:VCARD\r\nFN:Ada\r\nEND:VCARD\r\n').entry, { full_name: 'Ada' })
  })

  const notVCard: [string, string, number, RegExp][] = [
    ['empty', '', 1, /no BEGIN:VCARD/],
    ['plain text', 'Dear Ada,\nhow are you?', 1, /not a property/],
    ['a calendar', 'BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n', 1, /"BEGIN:VCALENDAR" outside a card/],
    ['a card without END:VCARD', 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada\r\n', 1, /has no END:VCARD/],
    ['an END:VCARD without BEGIN:VCARD', `${aCard('3.0', 'FN:Ada')}END:VCARD\r\n`, 5, /END:VCARD without a BEGIN:VCARD/],
    ['a card inside a card', 'BEGIN:VCARD\r\nVERSION:2.1\r\nAGENT:\r\nBEGIN:VCARD\r\n', 4, /BEGIN:VCARD inside the card that begins on line 1/],
    ['a component inside a card', aCard('3.0', 'BEGIN:VEVENT'), 3, /"BEGIN:VEVENT" inside a card/],
    ['a line without a colon after a folded line', aCard('3.0', 'FN:Ada', ' Lovelace', 'Lovelace'), 5, /not a property \(no ":"\): "Lovelace"/],
    ['a line without a property name', aCard('3.0', ':Ada'), 3, /no property name/],
    ['an unclosed quote', aCard('3.0', 'TEL;TYPE="home:+1 555'), 3, /not a property/],
    ['an empty parameter name', aCard('3.0', 'TEL;=home:+1 555'), 3, /Empty parameter name/],
    ['an unknown version', aCard('5.0', 'FN:Ada'), 2, /VERSION "5.0" is not one of 2.1, 3.0 and 4.0/],
    ['an unknown charset', aCard('2.1', 'FN;CHARSET=X-KLINGON;ENCODING=QUOTED-PRINTABLE:Ada'), 3, /CHARSET "X-KLINGON"/],
  ]
  for (const [name, text, line, message] of notVCard) {
    test(`when the text is ${name}, then VCardSyntaxError names line ${line}`, () => {
      const error = thrown(text)

      assert.equal(error.line, line)
      assert.match(error.message, message)
      assert.match(error.message, new RegExp(`^Line ${line}: `))
    })
  }
})

describe('parseVCards: the mapping', () => {
  test('when a card has no FN, then the full name comes from N: prefixes, given, additional, family, suffixes', () => {
    const card = read('3.0', 'N:Hopper;Grace;Brewster Murray;Rear Adm.;PhD')

    assert.equal(card.entry.full_name, 'Rear Adm. Grace Brewster Murray Hopper PhD')
    assert.deepEqual(card.unmapped, [])
  })

  test('when N has parts that FN does not, then N is listed with them; otherwise N goes unreported', () => {
    assert.deepEqual(read('3.0', 'FN:Grace Hopper', 'N:Hopper;Grace;Brewster;Dr.;').unmapped, [
      { property: 'N', value: 'Hopper;Grace;Brewster;Dr.;', reason: 'parts of the name that the full name (FN) does not have: Dr. Brewster' },
    ])
    assert.deepEqual(read('3.0', 'FN:Dr. Grace Hopper', 'N:Hopper;Grace;;Dr.;').unmapped, [])
  })

  test('when a card has neither FN nor N, then the entry has no full name (and the service reports it)', () => {
    const card = read('3.0', 'EMAIL:ada@example.org')

    assert.deepEqual(card.entry, { emails: [{ kind: 'other', email: 'ada@example.org' }] })
    assert.deepEqual(validateAddressEntry(card.entry), [{ path: '/full_name', message: 'is required' }])
  })

  test('when a field an entry has once comes twice, then the first is mapped and the others are listed', () => {
    const card = read(
      '4.0',
      'FN:Ada',
      'FN:Augusta Ada King',
      'N:King;Ada;;;',
      'N:Lovelace;Ada;;;',
      'NICKNAME:Enchantress,Lady Ada',
      'TITLE:Countess',
      'TITLE:Mathematician',
      'UID:a1',
      'UID:a2',
      'item1.TEL:+1 555 0100',
      'item1.X-ABLabel:_$!<Home>!$_',
      'item1.X-ABLabel:Landline',
    )

    assert.deepEqual(card.entry, {
      full_name: 'Ada',
      phone_numbers: [{ kind: 'home', country_code: 1, local_number: 5550100 }],
      nickname: 'Enchantress',
      job_title: 'Countess',
    })
    assert.equal(card.id, 'a1')
    assert.deepEqual(card.unmapped, [
      { property: 'FN', value: 'Augusta Ada King', reason: 'an entry has one full name' },
      { property: 'N', value: 'King;Ada;;;', reason: 'parts of the name that the full name (FN) does not have: King' },
      { property: 'N', value: 'Lovelace;Ada;;;', reason: 'an entry has one name' },
      { property: 'NICKNAME', value: 'Lady Ada', reason: 'an entry has one nickname' },
      { property: 'TITLE', value: 'Mathematician', reason: 'an entry has one job title' },
      { property: 'UID', value: 'a2', reason: 'an entry has one id' },
      { property: 'X-ABLABEL', value: 'Landline', reason: 'label of item1.TEL' },
    ])
  })

  test('when ORG has organizational units, then the organization is the first component and the units are listed', () => {
    const card = read('3.0', 'FN:Ada', 'ORG:Analytical Society\\, Ltd.;Engines;Programming')

    assert.equal(card.entry.organization, 'Analytical Society, Ltd.')
    assert.deepEqual(card.unmapped, [
      { property: 'ORG', value: 'Engines;Programming', reason: 'organizational units: an entry has the organization only' },
    ])
  })

  const birthdays: [string, string, string][] = [
    ['4.0', 'BDAY:--1209', '--12-09'],
    ['4.0', 'BDAY:19061209', '1906-12-09'],
    ['4.0', 'BDAY:1906-12-09', '1906-12-09'],
    ['4.0', 'BDAY;VALUE=date:19061209', '1906-12-09'],
    ['3.0', 'BDAY:1906-12-09T00:00:00Z', '1906-12-09'],
    ['3.0', 'BDAY:19061209T103000', '1906-12-09'],
    ['3.0', 'BDAY;X-APPLE-OMIT-YEAR=1604:1604-12-09', '--12-09'],
    ['3.0', 'BDAY;X-APPLE-OMIT-YEAR=1604:1906-12-09', '1906-12-09'],
    ['3.0', 'BDAY:--12-09', '--12-09'],
    ['2.1', 'BDAY:19061209', '1906-12-09'],
  ]
  for (const [version, line, birthday] of birthdays) {
    test(`when a ${version} card has ${line}, then the birthday is ${birthday}`, () => {
      const card = read(version, 'FN:Grace', line)

      assert.equal(card.entry.birthday, birthday)
      assert.deepEqual(card.unmapped, [])
    })
  }

  for (const line of ['BDAY;VALUE=text:circa 1800', 'BDAY:1906', 'BDAY:--12', 'BDAY:T1030']) {
    test(`when a card has ${line}, then it is listed as not a date`, () => {
      const card = read('4.0', 'FN:Grace', line)

      assert.equal(card.entry.birthday, undefined)
      assert.match(card.unmapped[0]?.reason ?? '', /not a date with a month and a day/)
    })
  }

  const phoneKinds: [string, string, string, string][] = [
    ['TEL;TYPE=HOME:+1 555 0100', 'phone_numbers', 'home', ''],
    ['TEL;TYPE=work,voice:+1 555 0100', 'phone_numbers', 'work', ''],
    ['TEL;TYPE=CELL;TYPE=PREF:+1 555 0100', 'phone_numbers', 'mobile', ''],
    ['TEL;type=IPHONE;type=CELL;type=VOICE:+1 555 0100', 'phone_numbers', 'mobile', ''],
    ['TEL:+1 555 0100', 'phone_numbers', 'other', ''],
    ['TEL;TYPE=OTHER:+1 555 0100', 'phone_numbers', 'other', ''],
    ['TEL;TYPE=FAX:+1 555 0100', 'fax_numbers', 'other', ''],
    ['TEL;TYPE=HOME,FAX:+1 555 0100', 'fax_numbers', 'home', ''],
    ['TEL;TYPE=PAGER:+1 555 0100', 'phone_numbers', 'other', 'TYPE=PAGER: no such kind in an entry'],
    ['TEL;TYPE=HOME;TYPE=WORK:+1 555 0100', 'phone_numbers', 'home', 'TYPE=WORK: no such kind in an entry'],
    ['item1.TEL:+1 555 0100|item1.X-ABLabel:_$!<Mobile>!$_', 'phone_numbers', 'mobile', ''],
    ['item1.TEL:+1 555 0100|item1.X-ABLabel:_$!<Other>!$_', 'phone_numbers', 'other', ''],
    ['item1.TEL:+1 555 0100|item1.X-ABLabel:_$!<Home>!$_', 'phone_numbers', 'home', ''],
    ['item1.TEL;type=HOME:+1 555 0100|item1.X-ABLabel:_$!<iPhone>!$_', 'phone_numbers', 'mobile', 'TYPE=HOME: no such kind in an entry'],
    ['item1.TEL:+1 555 0100|item1.X-ABLabel:_$!<WorkFAX>!$_', 'fax_numbers', 'work', ''],
    ['item1.TEL:+1 555 0100|item1.X-ABLabel:Boat', 'phone_numbers', 'other', 'label of item1.TEL, which names no kind (mapped as other)'],
    ['item1.TEL;type=WORK:+1 555 0100|item1.X-ABLabel:Reception', 'phone_numbers', 'work', 'label of item1.TEL, which names no kind (mapped as work)'],
    ['item1.TEL:+1 555 0100|item1.X-ABLabel:_$!<Main>!$_', 'phone_numbers', 'other', 'label of item1.TEL, which names no kind (mapped as other)'],
  ]
  for (const [lines, field, kind, reason] of phoneKinds) {
    test(`when a card has ${lines}, then it goes to ${field} as ${kind}${reason === '' ? ', nothing listed' : `, listed: ${reason}`}`, () => {
      const card = read('3.0', 'FN:Ada', ...lines.split('|'))

      assert.deepEqual(card.entry[field], [{ kind, country_code: 1, local_number: 5550100 }])
      assert.deepEqual(
        card.unmapped.map((item) => item.reason),
        reason === '' ? [] : [reason],
      )
    })
  }

  test('when a TEL number cannot be an entry number, then it is listed with the reason', () => {
    const card = read('4.0', 'FN:Ada', 'TEL;VALUE=uri:tel:+1-555-0100;ext=7', 'TEL;TYPE=home:(555) 010-0100')

    assert.equal(card.entry.phone_numbers, undefined)
    assert.deepEqual(card.unmapped, [
      { property: 'TEL', value: 'tel:+1-555-0100;ext=7', reason: 'the number has an extension or URI parameters, which an entry cannot hold' },
      { property: 'TEL', value: '(555) 010-0100', reason: 'the number has no country code (+ or 00)' },
    ])
  })

  const emails: [string, string][] = [
    ['EMAIL;TYPE=INTERNET;TYPE=HOME:ada@example.org', 'home'],
    ['EMAIL;TYPE=work;PREF=1:ada@example.org', 'work'],
    ['EMAIL;PREF;INTERNET:ada@example.org', 'other'],
    ['item1.EMAIL;type=INTERNET:ada@example.org|item1.X-ABLabel:_$!<Work>!$_', 'work'],
  ]
  for (const [lines, kind] of emails) {
    test(`when a card has ${lines}, then it is a ${kind} email and nothing is listed`, () => {
      const card = read('3.0', 'FN:Ada', ...lines.split('|'))

      assert.deepEqual(card.entry.emails, [{ kind, email: 'ada@example.org' }])
      assert.deepEqual(card.unmapped, [])
    })
  }

  test('when an EMAIL has a kind that only phones have, then it is kind other and the TYPE is listed', () => {
    const card = read('3.0', 'FN:Ada', 'EMAIL;TYPE=CELL:ada@example.org')

    assert.deepEqual(card.entry.emails, [{ kind: 'other', email: 'ada@example.org' }])
    assert.deepEqual(listed(card.unmapped), [['EMAIL', 'ada@example.org']])
  })

  const streets: [string, Record<string, unknown>][] = [
    ['221B Ocean Drive', { street_number: '221B', street_name: 'Ocean Drive' }],
    ['7 Elm Row', { street_number: 7, street_name: 'Elm Row' }],
    ['12-14 Elm Row', { street_number: '12-14', street_name: 'Elm Row' }],
    ['17/2 Elm Row', { street_number: '17/2', street_name: 'Elm Row' }],
    ['007 Bond Street', { street_number: '007', street_name: 'Bond Street' }],
    ['Ocean Drive', { street_name: 'Ocean Drive' }],
    ['Am Kaiserkai 12a', { street_name: 'Am Kaiserkai 12a' }],
    ['5th Avenue', { street_name: '5th Avenue' }],
    ['1234567 Long Road', { street_number: '1234567', street_name: 'Long Road' }],
  ]
  for (const [street, expected] of streets) {
    test(`when the ADR street is "${street}", then the address has ${JSON.stringify(expected)}`, () => {
      const card = read('3.0', 'FN:Ada', `ADR;TYPE=HOME:;;${street};Port Ellis;;560001;Freedonia`)

      assert.deepEqual(card.entry.addresses, [{ kind: 'home', ...expected, city: 'Port Ellis', pincode: 560001, country: 'Freedonia' }])
    })
  }

  test("when an ADR comes from another app, then its extended address is the building and its street's further lines the locality", () => {
    const card = read('3.0', 'FN:Ada', 'ADR;TYPE=WORK:;Suite 200\\nHarbor Point;1 Main St\\nDowntown\\nEast Side;Port Ellis;WS;WS1 2AB;Freedonia')

    assert.deepEqual(card.entry.addresses, [
      {
        kind: 'work',
        building_name: 'Suite 200, Harbor Point',
        street_number: 1,
        street_name: 'Main St',
        locality: 'Downtown, East Side',
        city: 'Port Ellis',
        province: 'WS',
        pincode: 'WS1 2AB',
        country: 'Freedonia',
      },
    ])
  })

  const incomplete: [string, string][] = [
    [';;;Port Ellis;;560001;Freedonia', 'no street'],
    [';;7 Elm Row;Port Ellis;;;Freedonia', 'no postal code'],
    [';;7 Elm Row;Port Ellis;;560001;', 'no country'],
    ['P.O. Box 12;;;Port Ellis;;;', 'no street, no postal code, no country'],
  ]
  for (const [value, missing] of incomplete) {
    test(`when an ADR has ${missing}, then it is no address but listed with the reason`, () => {
      const card = read('4.0', 'FN:Ada', `ADR;TYPE=home:${value}`)

      assert.equal(card.entry.addresses, undefined)
      assert.deepEqual(card.unmapped, [
        { property: 'ADR', value, reason: `an address needs a street, a postal code and a country; this one has ${missing}` },
      ])
    })
  }

  test('when an ADR has a post office box, then the address is mapped and the box listed', () => {
    const card = read('4.0', 'FN:Ada', 'ADR:P.O. Box 12;;7 Elm Row;;;560001;Freedonia')

    assert.deepEqual(card.entry.addresses, [{ kind: 'other', street_number: 7, street_name: 'Elm Row', pincode: 560001, country: 'Freedonia' }])
    assert.deepEqual(card.unmapped, [{ property: 'ADR', value: 'P.O. Box 12', reason: 'post office box: an address has no place for one' }])
  })

  const uids: [string, string | undefined][] = [
    ['UID:0190f1e2d3c4b5a6978877665544332a', '0190f1e2d3c4b5a6978877665544332a'],
    ['UID:urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6', 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6'],
    ['UID;VALUE=text:abc-123', 'abc-123'],
    ['UID:https://example.org/contacts/1', undefined],
    [`UID:${'a'.repeat(65)}`, undefined],
  ]
  for (const [line, id] of uids) {
    test(`when a card has ${line.slice(0, 50)}, then ${id === undefined ? 'it has no id and the UID is listed' : `its id is ${id}`}`, () => {
      const card = read('4.0', 'FN:Ada', line)

      assert.equal(card.id, id)
      assert.deepEqual(
        card.unmapped.map((item) => item.property),
        id === undefined ? ['UID'] : [],
      )
    })
  }

  test('when a card has metadata (VERSION, PRODID, REV, KIND:individual), PREF or blank values, then none of it is listed', () => {
    const card = read('4.0', 'PRODID:-//Apple Inc.//iPhone OS 17.4//EN', 'REV:20240101T000000Z', 'KIND:individual', 'FN:Ada', 'TITLE:', 'ORG:;', 'TEL;PREF=1:+1 555 0100')

    assert.deepEqual(card.unmapped, [])
  })

  test('when a card has properties an entry has no place for, then each is listed with its value', () => {
    const card = read(
      '4.0',
      'FN:Ada',
      'PHOTO:https://example.org/ada.jpg',
      'X-SOCIALPROFILE;TYPE=twitter:https://twitter.com/ada',
      'IMPP:xmpp:ada@example.org',
      'CATEGORIES:friends,engines',
      'GEO:geo:51.5,-0.12',
      'KIND:group',
      'X-CUSTOM:a\\,b\\;c\\nd',
    )

    assert.deepEqual(card.unmapped, [
      { property: 'PHOTO', value: 'https://example.org/ada.jpg', reason: 'a photo at a web address is not fetched: an entry holds the image itself' },
      { property: 'X-SOCIALPROFILE', value: 'https://twitter.com/ada' },
      { property: 'IMPP', value: 'xmpp:ada@example.org' },
      { property: 'GEO', value: 'geo:51.5,-0.12' },
      { property: 'KIND', value: 'group' },
      { property: 'X-CUSTOM', value: 'a,b;c\nd' },
    ])
  })

  test('when a card has CATEGORIES, then they are its labels: trimmed, each once, commas escaped kept, and what an entry cannot hold listed', () => {
    const many = Array.from({ length: 52 }, (_, index) => `L${String(index)}`).join(',')
    const card = read('3.0', 'FN:Ada', 'CATEGORIES: Family ,Work,family,Engines\\, Analytical', 'CATEGORIES:Work,Poets', `CATEGORIES:${'x'.repeat(101)}`, `CATEGORIES:${many}`)

    const labels = card.entry.labels as string[]
    assert.deepEqual(labels.slice(0, 5), ['Family', 'Work', 'Engines, Analytical', 'Poets', 'L0'])
    assert.equal(labels.length, 50)
    assert.deepEqual(card.unmapped.map(({ property, value }) => [property, value.slice(0, 12)]), [
      ['CATEGORIES', 'x'.repeat(12)],
      ['CATEGORIES', 'L46,L47,L48,'],
    ])
  })

  test('when an entry has labels, then every version writes them as CATEGORIES, which read back as the same labels', () => {
    const entry = anEntry({ labels: ['Family', 'Engines, Analytical', 'a;b\\c'] })
    for (const version of ['3.0', '4.0'] as const) {
      const text = formatVCard({ id: 'e1', entry }, version)
      const [card] = parseVCards(text)

      assert.match(text, /\r\nCATEGORIES:Family,Engines\\, Analytical,a/)
      assert.deepEqual(card?.entry.labels, entry.labels)
      assert.deepEqual(card?.unmapped, [])
    }
  })

  test('when a card has a photo inline, then its bytes are read as each version writes them; a second photo, or one that is not base64, is listed', () => {
    const bytes = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3])
    const base64 = bytes.toString('base64')

    const v3 = read('3.0', 'FN:Ada', `PHOTO;ENCODING=b;TYPE=JPEG:${base64}`, `PHOTO;ENCODING=b;TYPE=JPEG:${base64}`)
    const v4 = read('4.0', 'FN:Ada', `PHOTO:data:image/jpeg;base64,${base64}`)
    const google = read('3.0', 'FN:Ada', `PHOTO;VALUE=URI:data:image/png;base64,${base64}`)
    const notBase64 = read('4.0', 'FN:Ada', 'PHOTO:data:image/jpeg,not-base64')

    assert.deepEqual([v3.photo, v4.photo, google.photo], [bytes, bytes, bytes])
    assert.deepEqual(v3.unmapped.map(({ property, reason }) => [property, reason]), [['PHOTO', 'an entry has one photo']])
    assert.equal(notBase64.photo, undefined)
    assert.deepEqual(notBase64.unmapped.map(({ property, reason }) => [property, reason]), [['PHOTO', 'not base64']])
  })

  test("when a URL has no scheme, then it is listed; Google's escaped colon is unescaped", () => {
    const card = read('3.0', 'FN:Ada', 'URL:www.example.org', 'item1.URL:https\\://example.org/ada', 'item1.X-ABLabel:')

    assert.deepEqual(card.entry.urls, ['https://example.org/ada'])
    assert.deepEqual(card.unmapped, [{ property: 'URL', value: 'www.example.org', reason: 'not an absolute URI (no scheme such as https:)' }])
  })

  test("when a URL has a label other than Apple's home page, then the label is listed", () => {
    const card = read('3.0', 'FN:Ada', 'item1.URL:https://example.org/ada', 'item1.X-ABLabel:Blog', 'item2.URL:https://example.org', 'item2.X-ABLabel:_$!<HomePage>!$_')

    assert.deepEqual(card.entry.urls, ['https://example.org/ada', 'https://example.org'])
    assert.deepEqual(card.unmapped, [{ property: 'X-ABLABEL', value: 'Blog', reason: 'label of item1.URL, and URLs have no labels in an entry' }])
  })

  test('when a label belongs to no property, then it is listed as the label of its group', () => {
    assert.deepEqual(read('3.0', 'FN:Ada', 'item9.X-ABLabel:Lonely', 'X-ABLabel:Stray').unmapped, [
      { property: 'X-ABLABEL', value: 'Lonely', reason: 'label of group item9' },
      { property: 'X-ABLABEL', value: 'Stray', reason: 'label of no group' },
    ])
  })
})

describe('phone numbers', () => {
  const readable: [string, Record<string, number>][] = [
    ['+44 20 7946 0000', { country_code: 44, local_number: 2079460000 }],
    ['+44 (20) 7946 0000', { country_code: 44, area_code: 20, local_number: 79460000 }],
    ['+44 (0)20 7946 0000', { country_code: 44, local_number: 2079460000 }],
    ['+1 (555) 123-4567', { country_code: 1, area_code: 555, local_number: 1234567 }],
    ['+1 (555) 012-3456', { country_code: 1, local_number: 5550123456 }],
    ['0049 40 55501234', { country_code: 49, local_number: 4055501234 }],
    ['+4940 55501234', { country_code: 49, local_number: 4055501234 }],
    ['tel:+1-555-123-4567', { country_code: 1, local_number: 5551234567 }],
    ['tel:+44-(20)-79460000', { country_code: 44, area_code: 20, local_number: 79460000 }],
    ['+7 495 123-45-67', { country_code: 7, local_number: 4951234567 }],
    ['+852 9123 4567', { country_code: 852, local_number: 91234567 }],
    ['+91 (821) 2412345', { country_code: 91, area_code: 821, local_number: 2412345 }],
    ['+49 (123456) 789', { country_code: 49, local_number: 123456789 }],
    ['+1.555.123.4567', { country_code: 1, local_number: 5551234567 }],
  ]
  for (const [written, parts] of readable) {
    test(`when a number is written "${written}", then it is ${JSON.stringify(parts)}`, () => {
      assert.deepEqual(readPhoneNumber(written), { parts })
    })
  }

  const unreadable: [string, RegExp][] = [
    ['(555) 123-4567', /no country code/],
    ['555 0100', /no country code/],
    ['tel:+1-555-123-4567;ext=12', /extension/],
    ['+1 555 123 4567 x12', /characters other than digits/],
    ['+1 555 CALL NOW', /characters other than digits/],
    ['+', /no country code after the \+/],
    ['+0 123', /no country code after the \+/],
    ['+44', /no number after the country code/],
    ['+39 06 1234 5678', /starts with 0/],
    ['+44 1234 5678 9012 3456', /more than the 15 digits/],
  ]
  for (const [written, reason] of unreadable) {
    test(`when a number is written "${written}", then it cannot be an entry's number`, () => {
      assert.match(readPhoneNumber(written).reason ?? '', reason)
    })
  }

  test('when a number is formatted, then it reads back the same, as text and as tel URI', () => {
    for (const parts of [
      { country_code: 44, area_code: 20, local_number: 79460000 },
      { country_code: 1, local_number: 5550100 },
      { country_code: 998, area_code: 71, local_number: 1234567 },
    ]) {
      assert.deepEqual(readPhoneNumber(formatPhoneNumber(parts, 'text')), { parts })
      assert.deepEqual(readPhoneNumber(formatPhoneNumber(parts, 'uri')), { parts })
    }
  })
})
