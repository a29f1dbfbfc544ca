import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { isEntryId, newEntryId } from '../../src/domain/ids.js'

describe('entry ids', () => {
  test('when many ids are made at once, then each is a UUIDv7 in 32 hex digits, all differ, and they ascend in the order made', () => {
    // Far more than one pool of random bytes (256 ids) and than one millisecond holds.
    const ids = Array.from({ length: 5000 }, () => newEntryId())

    for (const id of ids) {
      assert.match(id, /^[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$/)
      assert.ok(isEntryId(id))
    }
    assert.equal(new Set(ids).size, ids.length)
    assert.deepEqual([...ids].sort(), ids)
  })

  test('when an id is made, then it starts with the time it was made, in milliseconds', () => {
    const before = Date.now()
    const id = newEntryId()
    const after = Date.now()

    const msecs = Number.parseInt(id.slice(0, 12), 16)
    // Within a burst the counter may carry into the next millisecond, never further than a few.
    assert.ok(msecs >= before && msecs <= after + 5, `${String(msecs)} not within ${String(before)}..${String(after)}`)
  })
})
