import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { describeSchemaErrors, validateAddressEntry, type AddressEntry } from '../../src/domain/address-entry.js'
import { aFullEntry, anEntry } from '../helpers/factories.js'

type Address = NonNullable<AddressEntry['addresses']>[number]
type Phone = NonNullable<AddressEntry['phone_numbers']>[number]

const anAddress = (overrides: Record<string, unknown> = {}) =>
  ({ kind: 'home', street_name: 'Elm Row', pincode: 560001, country: 'Freedonia', ...overrides }) as Address
const aPhone = (overrides: Record<string, unknown> = {}) => ({ kind: 'work', country_code: 91, local_number: 2412345, ...overrides }) as Phone

/** The paths and messages validation reports for a value. */
const errorsOf = (value: unknown) => validateAddressEntry(value)

describe('the address entry schema', () => {
  test('when a value breaks the schema in more ways than the validator reports, then it is still refused with named fields', () => {
    // The values of a confirmed defect: eight unknown members made the reported errors empty.
    const unknown = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, index) => [`u${String(index)}`, 1]))
    const values = [
      { full_name: '', ...unknown(8) },
      { full_name: 42, ...unknown(8) },
      { full_name: 'x'.repeat(5000), ...unknown(20) },
      { full_name: 'ok', birthday: 'yesterday', ...unknown(8) },
      { full_name: 'ok', urls: ['not a url'], ...unknown(9) },
      { full_name: 'ok', phone_numbers: Array.from({ length: 500 }, () => aPhone()), ...unknown(8) },
      { full_name: 'a\u0000b', ...unknown(8) },
      { ...unknown(8) },
      { full_name: 'ok', addresses: [anAddress({ ...unknown(8), pincode: -1 })] },
    ]

    for (const value of values) {
      const errors = errorsOf(value)
      assert.ok(errors.length > 0, `refused with no errors: ${JSON.stringify(value).slice(0, 80)}`)
      for (const error of errors) assert.ok(error.message.length > 0 && typeof error.path === 'string')
    }
  })

  test('when an entry has only a full name, then it is valid', () => {
    assert.deepEqual(errorsOf(anEntry()), [])
  })

  test('when an entry uses every field, then it is valid', () => {
    assert.deepEqual(errorsOf(aFullEntry()), [])
  })

  const fullNameCases: [string, unknown, string][] = [
    ['missing', undefined, 'is required'],
    ['empty', '', 'must not be blank'],
    ['only white space', ' \t\n', 'must not be blank'],
    ['201 characters', 'x'.repeat(201), 'must not have more than 200 characters'],
    ['a number', 42, 'must be string'],
    ['null', null, 'must be string'],
  ]
  for (const [name, value, message] of fullNameCases) {
    test(`when full_name is ${name}, then /full_name ${message}`, () => {
      const entry = value === undefined ? {} : { full_name: value }

      assert.deepEqual(errorsOf(entry), [{ path: '/full_name', message }])
    })
  }

  test('when full_name is 200 characters of any script, then it is valid', () => {
    assert.deepEqual(errorsOf(anEntry({ full_name: 'ü'.repeat(100) + '名'.repeat(100) })), [])
  })

  for (const value of [[], 'Bill', 42, null, true]) {
    test(`when the entry is ${JSON.stringify(value)}, then the root must be an object`, () => {
      assert.deepEqual(errorsOf(value), [{ path: '', message: 'must be object' }])
    })
  }

  for (const key of ['middle_name', '__proto__', 'constructor', 'id']) {
    test(`when the entry has an unknown key ${key}, then it is not allowed`, () => {
      const entry = JSON.parse(`{"full_name":"X","${key}":1}`) as unknown

      assert.deepEqual(errorsOf(entry), [{ path: `/${key}`, message: 'is not allowed' }])
    })
  }

  for (const field of ['addresses', 'phone_numbers', 'fax_numbers', 'emails'] as const) {
    test(`when ${field} is not an array, then it must be array`, () => {
      assert.deepEqual(errorsOf({ full_name: 'X', [field]: {} }), [{ path: `/${field}`, message: 'must be array' }])
    })

    test(`when ${field} has 21 items, then it is too long; 20 are fine`, () => {
      const item = field === 'addresses' ? anAddress() : field === 'emails' ? { kind: 'home', email: 'a@example.com' } : aPhone()

      assert.deepEqual(errorsOf({ full_name: 'X', [field]: Array(20).fill(item) }), [])
      assert.deepEqual(errorsOf({ full_name: 'X', [field]: Array(21).fill(item) }), [
        { path: `/${field}`, message: 'must not have more than 20 items' },
      ])
    })
  }

  test('when an array is empty, then it is valid', () => {
    assert.deepEqual(errorsOf({ full_name: 'X', addresses: [], phone_numbers: [], fax_numbers: [], emails: [] }), [])
  })
})

describe('an address', () => {
  for (const field of ['kind', 'street_name', 'pincode', 'country']) {
    test(`when ${field} is missing, then /addresses/0/${field} is required`, () => {
      const address = Object.fromEntries(Object.entries(anAddress()).filter(([key]) => key !== field))

      assert.deepEqual(errorsOf({ full_name: 'X', addresses: [address] }), [{ path: `/addresses/0/${field}`, message: 'is required' }])
    })
  }

  const good: [string, unknown][] = [
    ['kind', 'work'],
    ['building_name', 'Harbor Point'],
    ['unit_number', 0],
    ['street_number', 221],
    ['street_number', '221B'],
    ['pincode', 560001],
    ['pincode', 'SW1A 1AA'],
    ['locality', 'Bayside'],
    ['city', 'Port Ellis'],
    ['province', 'Westshire'],
  ]
  for (const [field, value] of good) {
    test(`when ${field} is ${JSON.stringify(value)}, then it is valid`, () => {
      assert.deepEqual(errorsOf({ full_name: 'X', addresses: [anAddress({ [field]: value })] }), [])
    })
  }

  const bad: [string, unknown, string][] = [
    ['kind', 'office', 'must be one of: home, work, other'],
    ['kind', 'HOME', 'must be one of: home, work, other'],
    ['kind', 'mobile', 'must be one of: home, work, other'],
    ['building_name', '', 'must not have fewer than 1 characters'],
    ['building_name', 'x'.repeat(201), 'must not have more than 200 characters'],
    ['unit_number', -1, 'must be >= 0'],
    ['unit_number', 1.5, 'must be integer'],
    ['unit_number', '12', 'must be integer'],
    ['street_number', true, 'must be a number or a string'],
    ['street_number', 'x'.repeat(33), 'must be a number or a string'],
    ['street_name', 7, 'must be string'],
    ['pincode', null, 'must be a number or a string'],
    ['pincode', 1.5, 'must be a number or a string'],
    ['locality', 'x'.repeat(101), 'must not have more than 100 characters'],
    ['city', '', 'must not have fewer than 1 characters'],
    ['province', ['Westshire'], 'must be string'],
    ['country', '', 'must not have fewer than 1 characters'],
    ['floor', 3, 'is not allowed'],
  ]
  for (const [field, value, message] of bad) {
    test(`when ${field} is ${JSON.stringify(value).slice(0, 20)}, then /addresses/0/${field} ${message}`, () => {
      const errors = errorsOf({ full_name: 'X', addresses: [anAddress({ [field]: value })] })

      assert.deepEqual(errors, [{ path: `/addresses/0/${field}`, message }])
    })
  }

  test('when the second address is wrong, then the path points at index 1', () => {
    const errors = errorsOf({ full_name: 'X', addresses: [anAddress(), anAddress({ kind: 'x' })] })

    assert.deepEqual(errors, [{ path: '/addresses/1/kind', message: 'must be one of: home, work, other' }])
  })
})

describe('a phone or fax number', () => {
  for (const list of ['phone_numbers', 'fax_numbers'] as const) {
    for (const field of ['kind', 'country_code', 'local_number']) {
      test(`when ${list} lacks ${field}, then it is required`, () => {
        const phone = Object.fromEntries(Object.entries(aPhone()).filter(([key]) => key !== field))

        assert.deepEqual(errorsOf({ full_name: 'X', [list]: [phone] }), [{ path: `/${list}/0/${field}`, message: 'is required' }])
      })
    }

    for (const kind of ['home', 'work', 'mobile', 'other']) {
      test(`when ${list} has kind ${kind}, then it is valid`, () => {
        assert.deepEqual(errorsOf({ full_name: 'X', [list]: [aPhone({ kind })] }), [])
      })
    }

    test(`when ${list} has an area code, then it is valid`, () => {
      assert.deepEqual(errorsOf({ full_name: 'X', [list]: [aPhone({ area_code: 80 })] }), [])
    })
  }

  const bad: [string, unknown, string][] = [
    ['country_code', 0, 'must be >= 1'],
    ['country_code', 1000, 'must be <= 999'],
    ['country_code', '+91', 'must be integer'],
    ['area_code', -5, 'must be >= 0'],
    ['local_number', 1.25, 'must be integer'],
    ['local_number', '555-1234', 'must be integer'],
    ['local_number', 10 ** 15, 'must be <= 99999999999999'],
    ['kind', 'cell', 'must be one of: home, work, mobile, other'],
    ['extension', 12, 'is not allowed'],
  ]
  for (const [field, value, message] of bad) {
    test(`when ${field} is ${JSON.stringify(value)}, then /phone_numbers/0/${field} ${message}`, () => {
      assert.deepEqual(errorsOf({ full_name: 'X', phone_numbers: [aPhone({ [field]: value })] }), [{ path: `/phone_numbers/0/${field}`, message }])
    })
  }
})

describe('an email', () => {
  for (const email of ['ada@example.com', 'first.last+tag@sub.example.org']) {
    test(`when the email is ${email}, then it is valid`, () => {
      assert.deepEqual(errorsOf({ full_name: 'X', emails: [{ kind: 'home', email }] }), [])
    })
  }

  for (const email of ['not-an-email', 'a@', '@example.com', 'a b@example.com', `${'a'.repeat(250)}@example.com`]) {
    test(`when the email is ${email.slice(0, 24)}, then it is refused`, () => {
      const errors = errorsOf({ full_name: 'X', emails: [{ kind: 'home', email }] })

      assert.deepEqual(errors.map((error) => error.path), ['/emails/0/email'])
    })
  }

  test('when kind or email is missing, then both are named', () => {
    assert.deepEqual(errorsOf({ full_name: 'X', emails: [{}] }), [
      { path: '/emails/0/kind', message: 'is required' },
      { path: '/emails/0/email', message: 'is required' },
    ])
  })
})

describe('every failing field at once', () => {
  test('when many fields are wrong, then each is listed once', () => {
    const errors = errorsOf({ full_name: '', addresses: [{ kind: 'x' }], emails: [{ kind: 'home', email: 'x' }], extra: 1 })

    assert.deepEqual(
      errors.map((error) => error.path).sort(),
      ['/addresses/0/country', '/addresses/0/kind', '/addresses/0/pincode', '/addresses/0/street_name', '/emails/0/email', '/extra', '/full_name'],
    )
  })
})

describe('describeSchemaErrors', () => {
  test('when Ajv-style errors name one property each, then the property joins the path', () => {
    const described = describeSchemaErrors([
      { keyword: 'required', instancePath: '/emails/0', params: { missingProperty: 'email' } },
      { keyword: 'additionalProperties', instancePath: '', params: { additionalProperty: 'a/b~c' } },
    ])

    assert.deepEqual(described, [
      { path: '/emails/0/email', message: 'is required' },
      { path: '/a~1b~0c', message: 'is not allowed' },
    ])
  })

  test('when an enum error carries its allowed values, then they are listed', () => {
    const described = describeSchemaErrors([{ keyword: 'enum', instancePath: '/x', params: { allowedValues: ['a', 'b'] } }])

    assert.deepEqual(described, [{ path: '/x', message: 'must be one of: a, b' }])
  })

  test('when an error is of another keyword, then its own message is kept, or the keyword named', () => {
    const described = describeSchemaErrors([
      { keyword: 'minimum', instancePath: '/n', params: {}, message: 'must be >= 1' },
      { keyword: 'custom', instancePath: '/m', params: {} },
      { keyword: 'pattern', instancePath: '/p', params: { pattern: '^a$' } },
    ])

    assert.deepEqual(described, [
      { path: '/n', message: 'must be >= 1' },
      { path: '/m', message: 'fails custom' },
      { path: '/p', message: 'must match the pattern ^a$' },
    ])
  })
})

describe('the fields contacts apps carry (added to v1.0)', () => {
  const good: [string, unknown][] = [
    ['nickname', 'Amazing Grace'],
    ['organization', 'Freedonia Navy'],
    ['job_title', 'Rear Admiral'],
    ['birthday', '1906-12-09'],
    ['birthday', '--12-09'],
    ['birthday', '2000-02-29'],
    ['birthday', '--02-29'],
    ['notes', 'two\nlines'],
    ['notes', 'x'.repeat(10_000)],
    ['urls', ['https://example.org/grace', 'mailto:grace@example.org']],
    ['urls', []],
  ]
  for (const [field, value] of good) {
    test(`when ${field} is ${JSON.stringify(value).slice(0, 40)}, then it is valid`, () => {
      assert.deepEqual(errorsOf({ full_name: 'Ada Lovelace', [field]: value }), [])
    })
  }

  const birthday = 'must be a date: YYYY-MM-DD, or --MM-DD without the year'
  const bad: [string, unknown, string, string?][] = [
    ['nickname', '', 'must not have fewer than 1 characters'],
    ['organization', 'x'.repeat(201), 'must not have more than 200 characters'],
    ['job_title', 7, 'must be string'],
    ['notes', 'x'.repeat(10_001), 'must not have more than 10000 characters'],
    ['notes', 'a\u0000b', 'must not contain NUL characters or unpaired surrogates'],
    ['birthday', '1906-13-01', birthday],
    ['birthday', '9 December 1906', birthday],
    ['birthday', '1906-12-9', birthday],
    ['birthday', '12-09', birthday],
    ['birthday', '1906-04-31', 'must be a day that exists'],
    ['birthday', '1900-02-29', 'must be a day that exists'],
    ['birthday', '--02-30', 'must be a day that exists'],
    ['urls', 'https://example.org', 'must be array'],
    ['urls', ['example.org/grace'], 'must be uri', '/urls/0'],
    ['urls', Array.from({ length: 21 }, (_, i) => `https://example.org/${String(i)}`), 'must not have more than 20 items'],
  ]
  for (const [field, value, message, path = `/${field}`] of bad) {
    test(`when ${field} is ${JSON.stringify(value).slice(0, 40)}, then ${path} ${message}`, () => {
      assert.deepEqual(errorsOf({ full_name: 'Ada Lovelace', [field]: value }), [{ path, message }])
    })
  }

  test('when an email or an address has kind other, then it is valid', () => {
    assert.deepEqual(errorsOf({ full_name: 'X', emails: [{ kind: 'other', email: 'a@example.com' }], addresses: [anAddress({ kind: 'other' })] }), [])
  })
})

describe('the sample entries in data/addresses', () => {
  const folder = new URL('../../data/addresses/', import.meta.url)
  const files = readdirSync(folder).filter((name) => name.endsWith('.json'))

  test('when the folder is listed, then it holds at least three samples', () => {
    assert.ok(files.length >= 3, String(files))
  })

  for (const file of files) {
    test(`when ${file} is validated, then it is a valid entry`, () => {
      const entry = JSON.parse(readFileSync(new URL(file, folder), 'utf8')) as unknown

      assert.deepEqual(errorsOf(entry), [])
    })
  }
})

describe('plain text', () => {
  for (const [name, value] of [
    ['a NUL character', 'Ada\u0000Lovelace'],
    ['a lone high surrogate', 'Ada \uD83D'],
    ['a lone low surrogate', '\uDE00 Ada'],
  ] as const) {
    test(`when a string holds ${name}, then it is refused wherever it is`, () => {
      const message = 'must not contain NUL characters or unpaired surrogates'

      assert.deepEqual(errorsOf({ full_name: value }), [{ path: '/full_name', message }])
      assert.deepEqual(errorsOf({ full_name: 'X', addresses: [anAddress({ city: value })] }), [{ path: '/addresses/0/city', message }])
    })

    test(`when an email's quoted local part holds ${name}, then it is refused though it is a well-formed address`, () => {
      const email = `"${value}"@example.com`

      assert.deepEqual(errorsOf({ full_name: 'X', emails: [{ kind: 'home', email }] }), [
        { path: '/emails/0/email', message: 'must not contain NUL characters or unpaired surrogates' },
      ])
    })
  }

  test('when an email is both malformed and holds a NUL, then both reasons are named', () => {
    const errors = errorsOf({ full_name: 'X', emails: [{ kind: 'home', email: 'a\u0000b' }] })

    assert.deepEqual(errors, [
      { path: '/emails/0/email', message: 'must be email' },
      { path: '/emails/0/email', message: 'must not contain NUL characters or unpaired surrogates' },
    ])
  })

  test("when an email's quoted local part holds emoji (surrogate pairs), then it is valid", () => {
    assert.deepEqual(errorsOf({ full_name: 'X', emails: [{ kind: 'home', email: '"👩🏽‍🚀 crew"@example.com' }] }), [])
  })

  test('when a string holds emoji, other scripts and control characters, then it is valid', () => {
    assert.deepEqual(errorsOf({ full_name: '👩🏽‍🚀 山田 محمد e\u0301 \u0007\t\n\u2028' }), [])
  })
})
