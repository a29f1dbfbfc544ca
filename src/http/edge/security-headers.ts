import type { IncomingMessage, ServerResponse } from 'node:http'
import helmet, { type HelmetOptions } from 'helmet'

/**
 * The headers Helmet sets for these options, computed once. Helmet (and @fastify/helmet, which
 * calls it for every request) rebuilds and re-serializes them on every request, which cost a
 * third of the throughput of a GET; the set never changes, so every response gets this one.
 */
export function securityHeaders(options: Readonly<HelmetOptions>): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {}
  const response = {
    setHeader(name: string, value: string | number) {
      headers[name.toLowerCase()] = String(value)
    },
    removeHeader(name: string) {
      Reflect.deleteProperty(headers, name.toLowerCase())
    },
  }
  // Helmet reads nothing of the request for these options; it only sets and removes headers.
  const request = Object.create(null) as IncomingMessage
  helmet(options)(request, response as unknown as ServerResponse, (error?: unknown) => {
    if (error !== undefined) throw error instanceof Error ? error : new Error('helmet refused its options')
  })
  return Object.freeze(headers)
}

/**
 * Security headers for a JSON API (Helmet's, for these options): nothing may be framed, sniffed,
 * or load anything, and no Referer leaks a URL. The headers that only matter to HTML pages are
 * left out.
 */
export const API_SECURITY_HEADERS = securityHeaders({
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  crossOriginOpenerPolicy: false,
  originAgentCluster: false,
  referrerPolicy: { policy: 'no-referrer' as const },
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xFrameOptions: { action: 'deny' as const },
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
})
