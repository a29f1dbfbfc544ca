import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Compile } from 'typebox/compile'
import { AddressEntryPatch, isAddressEntry } from '../../src/domain/address-entry.js'
import { mergePatch } from '../../src/domain/merge-patch.js'
import { aFullEntry } from '../helpers/factories.js'

describe('mergePatch', () => {
  // The examples of RFC 7396, Appendix A.
  const examples: [unknown, unknown, unknown][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ]
  for (const [target, patch, result] of examples) {
    test(`when ${JSON.stringify(patch)} is merged into ${JSON.stringify(target)}, then ${JSON.stringify(result)}`, () => {
      assert.deepEqual(mergePatch(target, patch), result)
    })
  }

  test('when the target is merged into, then the target itself is left as it was', () => {
    const target = { a: { b: 1 }, c: [1] }

    mergePatch(target, { a: { b: 2 }, c: null })

    assert.deepEqual(target, { a: { b: 1 }, c: [1] })
  })

  for (const key of ['__proto__', 'constructor', 'prototype']) {
    test(`when a patch has a ${key} member, then the result has it as its own member and no prototype changes`, () => {
      const patch = JSON.parse(`{"${key}": {"polluted": true}, "nested": {"${key}": {"polluted": true}}}`) as unknown

      const result = mergePatch({ nested: {} }, patch) as Record<string, Record<string, unknown>>

      assert.ok(Object.hasOwn(result, key))
      assert.ok(Object.hasOwn(result.nested ?? {}, key))
      assert.equal(Object.getPrototypeOf(result), Object.prototype)
      assert.equal(({} as Record<string, unknown>).polluted, undefined)
      assert.deepEqual(Object.keys(result).sort(), [key, 'nested'].sort())
    })
  }

  test('when a patch removes a __proto__ member it added, then it is gone and the prototype is intact', () => {
    const withKey = mergePatch({}, JSON.parse('{"__proto__": 1}'))

    const without = mergePatch(withKey, JSON.parse('{"__proto__": null}')) as object

    assert.deepEqual(Object.keys(without), [])
    assert.equal(Object.getPrototypeOf(without), Object.prototype)
  })
})

describe('the merge patch schema', () => {
  const patchIsValid = Compile(AddressEntryPatch)
  const entry = aFullEntry()
  const phone = { kind: 'work', country_code: 1, local_number: 5550100 }
  const patches: [string, unknown][] = [
    ['a new name', { full_name: 'Grace Hopper' }],
    ['a blank name', { full_name: '   ' }],
    ['no name', { full_name: null }],
    ['the phones replaced', { phone_numbers: [phone] }],
    ['the phones removed', { phone_numbers: null }],
    ['a phone without its number', { phone_numbers: [{ kind: 'work', country_code: 1 }] }],
    ['a phone of an unknown kind', { phone_numbers: [{ ...phone, kind: 'cell' }] }],
    ['a list that is not one', { emails: 'ada@example.com' }],
    ['an unknown member removed', { middle_name: null }],
    ['an unknown member set', { middle_name: 'Ada' }],
    ['a __proto__ member', JSON.parse('{"__proto__": {"full_name": "x"}}')],
    ['an empty patch', {}],
    ['a nickname set', { nickname: 'Ada' }],
    ['the nickname removed', { nickname: null }],
    ['a birthday without its year', { birthday: '--12-09' }],
    ['a birthday that is not a date', { birthday: 'December' }],
    ['the urls removed', { urls: null }],
    ['a url that is not one', { urls: ['example'] }],
    ['a list for a patch', []],
    ['a string for a patch', 'Ada'],
  ]

  for (const [what, patch] of patches) {
    test(`when the patch is ${what}, then the schema accepts it exactly when the patched entry is valid`, () => {
      assert.equal(patchIsValid.Check(patch), isAddressEntry(mergePatch(entry, patch)))
    })
  }
})
