import type { ComponentChildren } from 'preact'
import { useEffect, useRef, useState } from 'preact/hooks'
import { ApiError, deleteEntry, fetchEntry, restoreFromTrash, type EntryRecord, type PhoneNumber } from './api.js'
import { ConfirmDialog } from './dialog.js'
import { Face } from './face.js'
import { addressLines, birthdayText, phoneText, safeLink, telHref } from './format.js'
import { History } from './history.js'
import { messageOf, notRestoredMessage } from './messages.js'
import { PhotoEditor } from './photo-editor.js'
import { hrefOf, navigate, screenOf, setTitle } from './route.js'
import type { Changed } from './toast.js'

type Loaded = { state: 'loading' } | { state: 'failed'; message: string; missing: boolean } | { state: 'ready'; entry: EntryRecord; etag: string }

/** One entry, every field of it, with Edit and Delete, and its history. */
export function EntryView({ id, changed }: { id: string; changed: Changed }) {
  const [loaded, setLoaded] = useState<Loaded>({ state: 'loading' })
  const [confirming, setConfirming] = useState(false)
  const [deleting, setDeleting] = useState(false)
  const [deleteProblem, setDeleteProblem] = useState('')
  const heading = useRef<HTMLHeadingElement>(null)

  const load = () => {
    fetchEntry(id).then(
      ({ entry, etag }) => {
        setLoaded({ state: 'ready', entry, etag })
      },
      (error: unknown) => {
        const missing = error instanceof ApiError && error.status === 404
        setLoaded({ state: 'failed', missing, message: missing ? 'This entry does not exist: it may have been deleted.' : messageOf(error) })
      },
    )
  }
  useEffect(load, [id])
  useEffect(() => {
    if (loaded.state !== 'loading') heading.current?.focus()
    if (loaded.state === 'ready') setTitle(loaded.entry.full_name)
  }, [loaded])

  if (loaded.state === 'loading') return <p class="empty">Loading…</p>
  if (loaded.state === 'failed') {
    return (
      <article class="entry">
        <h1 ref={heading} tabIndex={-1}>
          {loaded.missing ? 'Not found' : 'Could not load this entry'}
        </h1>
        <p class="error">{loaded.message}</p>
        <a href="#/">Back to the list</a>
      </article>
    )
  }
  const { entry, etag } = loaded

  const remove = () => {
    setDeleting(true)
    deleteEntry(id, etag).then(
      () => {
        setConfirming(false)
        changed(`Deleted ${entry.full_name}.`, () => bringBack(id, entry.full_name))
        navigate({ name: 'home' })
      },
      (error: unknown) => {
        setDeleting(false)
        setConfirming(false)
        if (error instanceof ApiError && error.status === 404) {
          changed(`${entry.full_name} had already been deleted.`)
          navigate({ name: 'home' })
        } else if (error instanceof ApiError && error.status === 412) {
          setDeleteProblem('Someone else changed this entry since you opened it, so it was not deleted. Here is their version: delete it again if you still mean to.')
          load()
        } else {
          setDeleteProblem(messageOf(error))
        }
      },
    )
  }

  return (
    <article class="entry" aria-labelledby="entry-name">
      <header class="entry-head">
        <Face entry={entry} large />
        <div>
          <h1 id="entry-name" ref={heading} tabIndex={-1}>
            {entry.full_name}
          </h1>
          {entry.labels !== undefined && entry.labels.length > 0 && (
            <ul class="chips" aria-label="Labels">
              {entry.labels.map((label) => (
                <li key={label}>
                  <a class="chip" href={`?label=${encodeURIComponent(label)}#/`}>
                    {label}
                  </a>
                </li>
              ))}
            </ul>
          )}
          {entry.nickname !== undefined && <p class="nickname">“{entry.nickname}”</p>}
          {(entry.job_title !== undefined || entry.organization !== undefined) && (
            <p class="work">{[entry.job_title, entry.organization].filter(Boolean).join(', ')}</p>
          )}
        </div>
      </header>
      <div class="actions">
        <a class="button primary" href={hrefOf({ name: 'edit', id })}>
          Edit
        </a>
        <button type="button" class="button danger" onClick={() => {
          setDeleteProblem('')
          setConfirming(true)
        }}>
          Delete
        </button>
        <a class="button quiet back" href="#/">
          Back to the list
        </a>
      </div>
      {deleteProblem !== '' && (
        <p class="error" role="alert">
          {deleteProblem}
        </p>
      )}
      <dl class="fields">
        <Phones label="Phone" phones={entry.phone_numbers} />
        <Phones label="Fax" phones={entry.fax_numbers} />
        {(entry.emails ?? []).map((email, index) => (
          <Row key={`e${index}`} label={`Email (${email.kind})`}>
            <a href={`mailto:${email.email}`}>{email.email}</a>
          </Row>
        ))}
        {(entry.addresses ?? []).map((address, index) => (
          <Row key={`a${index}`} label={`Address (${address.kind})`}>
            <address>
              {addressLines(address).map((line, lineIndex) => (
                <span key={lineIndex} class="line">
                  {line}
                </span>
              ))}
            </address>
          </Row>
        ))}
        {entry.birthday !== undefined && <Row label="Birthday">{birthdayText(entry.birthday)}</Row>}
        {(entry.urls ?? []).map((url, index) => {
          const href = safeLink(url)
          return (
            <Row key={`u${index}`} label="Website">
              {href === undefined ? url : <a href={href} rel="noopener noreferrer">{url}</a>}
            </Row>
          )
        })}
        {entry.notes !== undefined && (
          <Row label="Notes">
            <p class="notes">{entry.notes}</p>
          </Row>
        )}
      </dl>
      <PhotoEditor
        id={id}
        entry={entry}
        changed={(message) => {
          changed(message)
          load()
        }}
      />
      <History
        id={id}
        etag={etag}
        changed={(message) => {
          changed(message)
          load()
        }}
        reload={load}
      />
      <ConfirmDialog
        open={confirming}
        title={`Delete ${entry.full_name}?`}
        confirmLabel="Delete"
        busy={deleting}
        onConfirm={remove}
        onCancel={() => {
          setConfirming(false)
        }}
      >
        <p>The entry moves to the trash: you can restore it from there.</p>
      </ConfirmDialog>
    </article>
  )
}

function Row({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="field-row">
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  )
}

function Phones({ label, phones }: { label: string; phones: PhoneNumber[] | undefined }) {
  return (
    <>
      {(phones ?? []).map((phone, index) => (
        <Row key={index} label={`${label} (${phone.kind})`}>
          <a href={telHref(phone)}>{phoneText(phone)}</a>
        </Row>
      ))}
    </>
  )
}

/** Takes a delete back: the entry comes out of the trash, and is shown again if nothing else has been opened meanwhile. */
async function bringBack(id: string, name: string): Promise<string> {
  try {
    await restoreFromTrash(id)
  } catch (error) {
    return notRestoredMessage(error, name)
  }
  if (screenOf(location.hash).name === 'home') navigate({ name: 'entry', id })
  return `Restored ${name}.`
}
