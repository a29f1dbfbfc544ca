/**
 * Worker threads that run the TypeScript sources, as tsx's own --import makes the main thread do.
 * Every script that runs the sources preloads it after tsx:
 *
 *   node --import tsx --import ./test/helpers/tsx-in-workers.js …
 *
 * The SQLite store starts its writer thread from `./writer-thread.js` beside it, which is there
 * once built. Run from source, only writer-thread.ts is: a worker finds it only where tsx is
 * registered, since tsx resolves a .js import to the .ts beside it. Preloads run again in each
 * worker, but tsx registers itself there only on some Node versions (tsx 4.23 does from Node
 * 22.22.3 and 24.11.1, not on Node 20), so this registers it where it did not: it tries the
 * same kind of import first, so that tsx is never registered twice in one thread.
 *
 * Plain JavaScript: it runs in a worker before any TypeScript can.
 */
import { isMainThread } from 'node:worker_threads'

/** Whether this thread resolves a .js import to the TypeScript source beside it. */
async function resolvesTypeScript() {
  try {
    await import('./typescript-probe.js')
    return true
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ERR_MODULE_NOT_FOUND') return false
    throw error
  }
}

if (!isMainThread && !(await resolvesTypeScript())) {
  const { register } = await import('tsx/esm/api')
  register()
}
