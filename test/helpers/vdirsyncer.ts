import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** Where a vdirsyncer pair keeps things, as vdirsyncerPair made them. */
export interface VdirsyncerPair {
  /** The configuration file, for `vdirsyncer -c`. */
  readonly config: string
  /** The folder of the local storage: one folder of .vcf files per book inside it. */
  readonly cards: string
  /** The local book's folder (`contacts`), where the cards land. */
  readonly folder: string
  readonly status: string
}

/**
 * A vdirsyncer configuration in `dir` that pairs a local folder of .vcf files with a CardDAV
 * server's books, discovered from `url`. The local book's folder exists already, so that
 * discovery pairs it with the server's book without asking whether to create it, and only the
 * server's books are paired: a local folder the server lacks fails, rather than being created there.
 */
export function vdirsyncerPair(dir: string, server: { url: string; username: string; password: string }): VdirsyncerPair {
  const cards = join(dir, 'cards')
  const folder = join(cards, 'contacts')
  const status = join(dir, 'status')
  mkdirSync(folder, { recursive: true })
  const config = join(dir, 'vdirsyncer.conf')
  writeFileSync(
    config,
    [
      '[general]',
      `status_path = ${JSON.stringify(status)}`,
      '',
      '[pair contacts]',
      'a = "local"',
      'b = "server"',
      'collections = ["from b"]',
      '',
      '[storage local]',
      'type = "filesystem"',
      `path = ${JSON.stringify(cards)}`,
      'fileext = ".vcf"',
      '',
      '[storage server]',
      'type = "carddav"',
      `url = ${JSON.stringify(server.url)}`,
      `username = ${JSON.stringify(server.username)}`,
      `password = ${JSON.stringify(server.password)}`,
      '',
    ].join('\n'),
  )
  return { config, cards, folder, status }
}
