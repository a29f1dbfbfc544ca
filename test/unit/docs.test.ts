import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'
import { describe, test } from 'node:test'
import { Problems } from '../../src/http/edge/problems.js'

const PAGES = ['README.md', ...readdirSync('docs').filter((name) => name.endsWith('.md')).map((name) => join('docs', name))]

/** Markdown without its fenced code blocks and code spans, where a link is only text. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '')
}

/** A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces as dashes. */
function anchorOf(heading: string): string {
  return heading
    .replace(/`/g, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')
}

function anchorsOf(markdown: string): Set<string> {
  const headings = [...markdown.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6} (.+)$/gm)].map((match) => anchorOf(match[1] ?? ''))
  const anchors = new Set<string>()
  for (const anchor of headings) {
    let unique = anchor
    for (let count = 1; anchors.has(unique); count++) unique = `${anchor}-${String(count)}`
    anchors.add(unique)
  }
  return anchors
}

/** The targets of the page's links and images that stay in this repository. */
function relativeLinks(markdown: string): string[] {
  return [...prose(markdown).matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)]
    .map((match) => match[1] ?? '')
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target))
}

describe('the documentation', () => {
  test('when a page links within the repository, then the file and the heading exist', () => {
    const broken: string[] = []
    for (const page of PAGES) {
      for (const target of relativeLinks(readFileSync(page, 'utf8'))) {
        const [path = '', anchor] = target.split('#', 2)
        const file = path === '' ? page : normalize(join(dirname(page), decodeURI(path)))
        if (!existsSync(file)) {
          broken.push(`${page}: ${target} (no such file)`)
          continue
        }
        if (anchor === undefined) continue
        if (statSync(file).isDirectory() || !file.endsWith('.md') || !anchorsOf(readFileSync(file, 'utf8')).has(anchor)) {
          broken.push(`${page}: ${target} (no such heading)`)
        }
      }
    }

    assert.deepEqual(broken, [])
  })

  test('when every page is listed, then each is linked from the README', () => {
    const links = new Set(relativeLinks(readFileSync('README.md', 'utf8')).map((target) => target.split('#', 1)[0]))

    for (const page of PAGES.filter((name) => name !== 'README.md')) assert.ok(links.has(page), `README.md does not link to ${page}`)
  })

  test('when docs/api.md lists the problem types, then each of the catalogue is there with its status and reason phrase', () => {
    const rows = new Map<string, string>()
    for (const line of readFileSync('docs/api.md', 'utf8').split('\n')) {
      const row = /^\| `([a-z0-9-]+)` \| `(\d{3} [^`]+)` \|/.exec(line)
      if (row) rows.set(row[1] ?? '', row[2] ?? '')
    }

    for (const problem of Object.values(Problems)) {
      assert.equal(rows.get(problem.code), `${String(problem.status)} ${problem.title}`, `the row of ${problem.code} in docs/api.md`)
    }
    const slugs = new Set<string>(Object.values(Problems).map(({ code }) => code))
    for (const slug of rows.keys()) assert.ok(slugs.has(slug), `docs/api.md lists ${slug}, which is not in the catalogue`)
  })
})
