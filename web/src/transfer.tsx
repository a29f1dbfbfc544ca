import { useEffect, useRef, useState } from 'preact/hooks'
import { ApiError, exportBook, importBook, importMediaType, type ExportFormat, type ImportError, type ImportResult } from './api.js'
import { messageOf } from './messages.js'
import { hrefOf } from './route.js'
import { useFileDrop } from './file-drop.js'

type Imported =
  | { state: 'idle' }
  | { state: 'working'; fileName: string }
  | { state: 'done'; fileName: string; result: ImportResult; names: Map<number, string> }
  | { state: 'refused'; fileName: string; message: string; errors: ImportError[] }

/** Import a .vcf or .ndjson file (picked or dropped); export the book, or the current search, as either. */
export function Transfer({ q, changed }: { q: string; changed: (message: string) => void }) {
  const [imported, setImported] = useState<Imported>({ state: 'idle' })
  const { dragging, handlers: dropHandlers } = useFileDrop((file) => void importFile(file))
  const [exporting, setExporting] = useState<ExportFormat | null>(null)
  const [exportProblem, setExportProblem] = useState('')
  const [scope, setScope] = useState<'book' | 'search'>(q === '' ? 'book' : 'search')
  const heading = useRef<HTMLHeadingElement>(null)
  const outcome = useRef<HTMLDivElement>(null)

  useEffect(() => {
    heading.current?.focus()
  }, [])
  useEffect(() => {
    if (imported.state === 'done' || imported.state === 'refused') outcome.current?.focus()
  }, [imported.state])

  const importFile = async (file: File) => {
    setImported({ state: 'working', fileName: file.name })
    try {
      const text = await file.text()
      const mediaType = importMediaType(file.name, text)
      const result = await importBook(file, mediaType)
      setImported({ state: 'done', fileName: file.name, result, names: namesIn(text, mediaType) })
      changed(`Imported ${result.created.length} ${result.created.length === 1 ? 'entry' : 'entries'} from ${file.name}.`)
    } catch (error) {
      setImported({
        state: 'refused',
        fileName: file.name,
        message: messageOf(error),
        errors: error instanceof ApiError ? (error.problem.errors ?? []) : [],
      })
    }
  }

  const download = async (format: ExportFormat) => {
    setExporting(format)
    setExportProblem('')
    try {
      const { blob, fileName } = await exportBook(format, scope === 'search' ? q : '')
      const url = URL.createObjectURL(blob)
      const link = document.createElement('a')
      link.href = url
      link.download = fileName
      document.body.append(link)
      link.click()
      link.remove()
      setTimeout(() => {
        URL.revokeObjectURL(url)
      }, 10_000)
      changed(`Exported ${fileName} (${sizeText(blob.size)}).`)
    } catch (error) {
      setExportProblem(messageOf(error))
    } finally {
      setExporting(null)
    }
  }

  const searching = scope === 'search' && q !== ''
  return (
    <section class="transfer" aria-labelledby="transfer-title">
      <h1 id="transfer-title" ref={heading} tabIndex={-1}>
        Import and export
      </h1>

      <h2>Import</h2>
      <p>
        A vCard file (<code>.vcf</code>, from Google Contacts, Apple, Outlook, Thunderbird…) or NDJSON (<code>.ndjson</code>, as this
        service exports it). Either every entry in the file is added, or none is.
      </p>
      <label
        class={`drop-zone${dragging ? ' dragging' : ''}`}
        for="import-file"
        {...dropHandlers}
      >
        <span class="drop-title">Drop a file here</span>
        <span class="drop-or">or choose one:</span>
        <input
          id="import-file"
          type="file"
          accept=".vcf,.vcard,.ndjson,.jsonl,text/vcard,text/x-vcard,application/x-ndjson"
          disabled={imported.state === 'working'}
          onChange={(event) => {
            const file = event.currentTarget.files?.[0]
            event.currentTarget.value = ''
            if (file !== undefined) void importFile(file)
          }}
        />
      </label>
      {imported.state === 'working' && <p aria-live="polite">Importing {imported.fileName}…</p>}
      {imported.state === 'done' && (
        <div class="outcome success" tabIndex={-1} ref={outcome}>
          <p>
            <strong>
              {imported.result.created.length} {imported.result.created.length === 1 ? 'entry' : 'entries'} created
            </strong>{' '}
            from {imported.fileName}.
          </p>
          <ImportTable result={imported.result} names={imported.names} />
        </div>
      )}
      {imported.state === 'refused' && (
        <div class="outcome problems" role="alert" tabIndex={-1} ref={outcome}>
          <p>
            <strong>Nothing was imported</strong> from {imported.fileName}: {imported.message}
          </p>
          {imported.errors.length > 0 && (
            <ul>
              {imported.errors.slice(0, 100).map((error, index) => (
                <li key={index}>
                  {error.card !== undefined ? `Card ${error.card}` : error.line !== undefined ? `Line ${error.line}` : 'The file'}
                  {error.path === '' ? '' : `, ${error.path}`}: {error.message}
                </li>
              ))}
              {imported.errors.length > 100 && <li>… and {imported.errors.length - 100} more.</li>}
            </ul>
          )}
        </div>
      )}

      <h2>Export</h2>
      <fieldset class="choice">
        <legend>What to export</legend>
        <label>
          <input type="radio" name="scope" value="book" checked={!searching} onChange={() => {
            setScope('book')
          }} />{' '}
          The whole address book
        </label>
        <label>
          <input type="radio" name="scope" value="search" checked={searching} disabled={q === ''} onChange={() => {
            setScope('search')
          }} />{' '}
          {q === '' ? 'The current search (search the list first)' : `The entries matching “${q}”`}
        </label>
      </fieldset>
      <div class="actions">
        <button type="button" class="button" disabled={exporting !== null} onClick={() => void download('vcard')}>
          {exporting === 'vcard' ? 'Exporting…' : 'Download vCard (.vcf)'}
        </button>
        <button type="button" class="button" disabled={exporting !== null} onClick={() => void download('ndjson')}>
          {exporting === 'ndjson' ? 'Exporting…' : 'Download NDJSON'}
        </button>
      </div>
      {exportProblem !== '' && (
        <p class="error" role="alert">
          {exportProblem}
        </p>
      )}
    </section>
  )
}

const SHOWN_ROWS = 200

function ImportTable({ result, names }: { result: ImportResult; names: Map<number, string> }) {
  const rows = result.created.slice(0, SHOWN_ROWS)
  const unmappedCount = result.created.filter((created) => (created.unmapped?.length ?? 0) > 0).length
  return (
    <>
      {unmappedCount > 0 && (
        <p>
          {unmappedCount === 1 ? 'One card' : `${unmappedCount} cards`} held properties an entry has no place for; they were not kept.
        </p>
      )}
      <div class="table-scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">{rows[0]?.card !== undefined ? 'Card' : 'Line'}</th>
              <th scope="col">Entry</th>
              <th scope="col">Not kept</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((created) => {
              const position = created.card ?? created.line ?? 0
              return (
                <tr key={created.id}>
                  <td>{position}</td>
                  <td>
                    <a href={hrefOf({ name: 'entry', id: created.id })}>{names.get(position) ?? created.id}</a>
                  </td>
                  <td>
                    {(created.unmapped ?? []).length === 0 ? (
                      '—'
                    ) : (
                      <ul class="unmapped">
                        {(created.unmapped ?? []).map((item, index) => (
                          <li key={index}>
                            <code>{item.property}</code> {shortValue(item.value)}
                            {item.reason !== undefined && <span class="hint"> ({item.reason})</span>}
                          </li>
                        ))}
                      </ul>
                    )}
                  </td>
                </tr>
              )
            })}
          </tbody>
        </table>
      </div>
      {result.created.length > SHOWN_ROWS && <p>… and {result.created.length - SHOWN_ROWS} more.</p>}
    </>
  )
}

/** The names in an import file by card number or line number, to show beside what the server created. */
function namesIn(text: string, mediaType: string): Map<number, string> {
  const names = new Map<number, string>()
  if (mediaType === 'text/vcard') {
    let card = 0
    for (const line of unfoldedLines(text)) {
      if (/^BEGIN:VCARD$/i.test(line.trim())) card++
      const match = /^(?:[\w-]+\.)?FN((?:;[^:]*)?):(.*)$/i.exec(line)
      if (match === null || names.has(card)) continue
      const [, parameters = '', value = ''] = match
      const decoded = /QUOTED-PRINTABLE/i.test(parameters) ? quotedPrintable(value, /CHARSET=([\w-]+)/i.exec(parameters)?.[1] ?? 'utf-8') : value
      names.set(card, decoded.replace(/\\([,;\\])/g, '$1').replace(/\\n/gi, ' '))
    }
    return names
  }
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue
    try {
      const value = JSON.parse(line) as { full_name?: unknown; entry?: { full_name?: unknown } }
      const name = value.entry?.full_name ?? value.full_name
      if (typeof name === 'string') names.set(index + 1, name)
    } catch {
      // The server names the bad lines; this only labels the good ones.
    }
  }
  return names
}

/** The logical lines of a vCard text: folded lines unfolded (RFC 6350 3.2), quoted-printable soft breaks joined (vCard 2.1). */
function unfoldedLines(text: string): string[] {
  const lines: string[] = []
  for (const line of text.replace(/\r?\n[ \t]/g, '').split(/\r?\n/)) {
    const previous = lines[lines.length - 1]
    if (previous !== undefined && previous.endsWith('=') && /^[^:]*QUOTED-PRINTABLE[^:]*:/i.test(previous)) lines[lines.length - 1] = previous.slice(0, -1) + line
    else lines.push(line)
  }
  return lines
}

function quotedPrintable(value: string, charset: string): string {
  const bytes = Uint8Array.from(value.replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), (char) => char.charCodeAt(0))
  try {
    return new TextDecoder(charset).decode(bytes)
  } catch {
    return new TextDecoder().decode(bytes)
  }
}

/** An unmapped value as a line of the table: a photo's base64 would fill the screen. */
function shortValue(value: string): string {
  return value.length > 80 ? `${value.slice(0, 80)}…` : value
}

function sizeText(bytes: number): string {
  return bytes < 1024 ? `${bytes} bytes` : bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}
