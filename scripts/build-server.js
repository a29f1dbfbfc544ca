/**
 * npm run build (its server half): bundles src/ into dist/ with esbuild.
 *
 * Why a bundle rather than tsc's one file per module: Node's ESM loader costs about half a
 * millisecond per module it resolves, links and compiles, and the server started ~800 of them
 * (TypeBox alone is 700 small ESM files); that was half of its cold start. Bundled, our sources
 * and TypeBox are a few files, split where the code loads lazily (the commands, PostgreSQL,
 * the keys command), so `--version` still loads nothing. The other packages stay external, as
 * npm installed them: they are CommonJS (which Node loads quickly), or native (better-sqlite3),
 * or find files beside themselves (swagger-ui's assets, pino's transports).
 *
 * Types are checked by `npm run typecheck`, not here. Plain JavaScript: it runs before anything
 * is built.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, URL } from 'node:url'
import { build } from 'esbuild'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const DIST = join(ROOT, 'dist')
/** Bundled into the server: ESM packages of many modules. */
const BUNDLED = new Set(['typebox'])

const { dependencies } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
const external = Object.keys(dependencies)
  .filter((name) => !BUNDLED.has(name))
  .flatMap((name) => [name, `${name}/*`])

// What an earlier build left (the web app in dist/app is Vite's to replace).
for (const name of existsSync(DIST) ? readdirSync(DIST) : []) {
  if (name !== 'app') rmSync(join(DIST, name), { recursive: true, force: true })
}

const { metafile } = await build({
  absWorkingDir: ROOT,
  entryPoints: {
    main: 'src/main.ts',
    // Started by the SQLite store as './writer-thread.js' beside the module that starts it.
    'modules/writer-thread': 'src/storage/sqlite/writer-thread.ts',
  },
  outdir: DIST,
  chunkNames: 'modules/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  external,
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
})

/**
 * Modules that find files by their own location must land where those paths still hold: the
 * SQLite store beside the writer thread, main.js one level below the repository. (The web app's
 * module looks for the repository upwards, at any depth.) A bundle cannot tell that from the code, so the build
 * checks it, rather than the first request. esbuild names its outputs relative to absWorkingDir.
 */
const outputOf = (source) => {
  const found = Object.entries(metafile.outputs).find(([, output]) => output.inputs[source] !== undefined)
  if (!found) throw new Error(`build: ${source} is in no output`)
  return found[0]
}
const expectations = [
  // new URL('./writer-thread.js/', import.meta.url)
  { source: 'src/storage/sqlite/group-commit.ts', directory: 'dist/modules' },
  // require('../package.json')
  { source: 'src/main.ts', directory: 'dist' },
]
for (const { source, directory } of expectations) {
  const output = outputOf(source)
  if (dirname(output) !== directory) throw new Error(`build: ${source} went to ${output}, not into ${directory}/`)
}
