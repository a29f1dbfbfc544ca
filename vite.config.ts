import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

/**
 * The contacts web app (web/) is built into dist/app, which the server serves under /app/.
 * File names carry a content hash, so the server can let browsers keep them for a year; the
 * page holds no inline script or style, so the CSP can forbid both.
 */
export default defineConfig({
  root: fileURLToPath(new URL('web', import.meta.url)),
  base: '/app/',
  // Nothing under web/public: every file the app uses is imported, hashed and bundled.
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  // npm run dev:web: the app with hot reload, the API from the server npm start runs.
  server: { proxy: { '/addresses': 'http://127.0.0.1:8080', '/openapi.json': 'http://127.0.0.1:8080' } },
  build: {
    outDir: fileURLToPath(new URL('dist/app', import.meta.url)),
    emptyOutDir: true,
    // Every module is in one entry chunk: the preload polyfill would be an inline-free but useless extra.
    modulePreload: { polyfill: false },
    // Nothing becomes a data: URL or an inline <style>; the CSP allows files from this server only.
    assetsInlineLimit: 0,
    target: 'es2022',
    reportCompressedSize: true,
  },
})
