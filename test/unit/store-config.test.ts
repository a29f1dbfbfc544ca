import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { describeStoreConfig, redactPassword } from '../../src/storage/store-config.js'

describe('redactPassword', () => {
  const cases = [
    ['the password is in the userinfo', 'postgres://app:s3cret@db.internal:5432/contacts', 'postgres://app:***@db.internal:5432/contacts'],
    [
      'the password is a ?password= parameter',
      'postgres://app@db.internal/contacts?password=s3cret&sslmode=require',
      'postgres://app@db.internal/contacts?password=***&sslmode=require',
    ],
    ['there is a password in both places', 'postgres://app:one@db.internal/contacts?password=two', 'postgres://app:***@db.internal/contacts?password=***'],
    ['the parameter is spelled PASSWORD=', 'postgresql://app@db.internal/contacts?PASSWORD=s3cret', 'postgresql://app@db.internal/contacts?PASSWORD=***'],
  ] as const
  for (const [when, url, redacted] of cases) {
    test(`when ${when}, then it shows *** in its place`, () => {
      assert.equal(redactPassword(url), redacted)
    })
  }

  test('when there is no password, then the URL is unchanged', () => {
    const url = 'postgres://app@db.internal:5432/contacts?sslmode=require&application_name=a%20b'

    assert.equal(redactPassword(url), url)
  })

  test('when the URL cannot be parsed, then none of it is repeated', () => {
    assert.equal(redactPassword('postgres://app:s3cret@[db'), 'postgres://(unparseable URL)')
  })
})

describe('describeStoreConfig', () => {
  test('when the store is PostgreSQL with a ?password= parameter, then the description hides it', () => {
    const described = describeStoreConfig({ kind: 'postgres', url: 'postgres://u@127.0.0.1:1/db?password=hunter2' })

    assert.equal(described, 'postgres:postgres://u@127.0.0.1:1/db?password=***')
  })
})
