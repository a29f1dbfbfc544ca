/**
 * JSON Merge Patch (RFC 7396): an object patch changes the members it names, `null` removes a
 * member, anything else (arrays included) replaces the target whole. The result is built from
 * own properties only: a `__proto__`, `constructor` or `prototype` key in a patch is an ordinary
 * member of the result (which the entry schema then refuses), never a change of any prototype.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch
  const result: Record<string, unknown> = {}
  if (isPlainObject(target)) {
    for (const key of Object.keys(target)) define(result, key, target[key])
  }
  for (const key of Object.keys(patch)) {
    const value = patch[key]
    if (value === null) Reflect.deleteProperty(result, key)
    else define(result, key, mergePatch(Object.hasOwn(result, key) ? result[key] : undefined, value))
  }
  return result
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** An own, enumerable member, whatever its name (assignment to `__proto__` would set the prototype instead). */
function define(object: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true })
}
