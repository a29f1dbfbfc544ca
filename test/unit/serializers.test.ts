import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { lazySerializers } from '../../src/http/edge/validation.js'

describe('response serializers', () => {
  const route = (schema: unknown) => ({ method: 'GET', url: '/x', httpStatus: '200', schema })

  test('when a route is registered, then its serializer is compiled only when it first answers', () => {
    const compiler = lazySerializers({}, {})
    // A reference to a schema nobody added: fast-json-stringify refuses it when it compiles.
    const serialize = compiler(route({ $ref: 'nowhere#' }))

    assert.throws(() => serialize({}), /nowhere/)
  })

  test('when a serializer answers, then it writes what the schema allows, as Fastify\'s own would', () => {
    const compiler = lazySerializers({}, {})
    const serialize = compiler(route({ type: 'object', properties: { name: { type: 'string' }, count: { type: 'integer' } } }))

    assert.equal(serialize({ name: 'Ada', count: 3, secret: 'x' }), '{"name":"Ada","count":3}')
    assert.equal(serialize({ name: 'Grace', count: 4 }), '{"name":"Grace","count":4}')
  })

  test('when a schema refers to a shared one, then the shared schemas given to the factory resolve it', () => {
    const compiler = lazySerializers({ shared: { $id: 'shared', type: 'object', properties: { id: { type: 'string' } } } }, {})
    const serialize = compiler(route({ $ref: 'shared#' }))

    assert.equal(serialize({ id: 'a', other: 1 }), '{"id":"a"}')
  })
})
