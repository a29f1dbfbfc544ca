/** Imported as ./typescript-probe.js by tsx-in-workers.js: found only where tsx resolves .js imports to TypeScript. */
export const probe = 'typescript'
