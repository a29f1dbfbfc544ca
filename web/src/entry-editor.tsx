import type { ComponentChildren } from 'preact'
import { useEffect, useRef, useState } from 'preact/hooks'
import { ApiError, createEntry, currentEtag, fetchEntry, updateEntry, type FieldError } from './api.js'
import { messageOf } from './messages.js'
import { LabelsField } from './labels-field.js'
import {
  emptyRow,
  entryOf,
  formOf,
  KINDS,
  PHONE_KINDS,
  type AddressRow,
  type EmailRow,
  type EntryForm,
  type ListName,
  type PhoneRow,
} from './form-model.js'
import { hrefOf, navigate, setTitle } from './route.js'

/** The id of the input for a JSON Pointer into the entry: /phone_numbers/1/local_number -> f-phone_numbers-1-local_number. */
const inputId = (path: string) => `f${path.replace(/[^A-Za-z0-9_-]/g, '-')}`

type Errors = ReadonlyMap<string, string>

interface Props {
  /** The entry to edit; none to create one. */
  id?: string
  changed: (message: string) => void
}

/**
 * The form for every field of an entry. Validation is the server's: its errors[].path is shown
 * beside the input of that path, and listed above the form. Saving an edit sends If-Match with
 * the version the form started from; a 412 offers their version or an overwrite.
 */
export function EntryEditor({ id, changed }: Props) {
  const [form, setForm] = useState<EntryForm | null>(id === undefined ? formOf(undefined) : null)
  const [etag, setEtag] = useState('')
  const [loadProblem, setLoadProblem] = useState('')
  const [errors, setErrors] = useState<Errors>(new Map())
  const [fieldErrors, setFieldErrors] = useState<FieldError[]>([])
  const [formProblem, setFormProblem] = useState('')
  const [conflict, setConflict] = useState(false)
  /** Someone else deleted the entry being edited: the form can still become a new entry. */
  const [gone, setGone] = useState(false)
  const [saving, setSaving] = useState(false)
  const heading = useRef<HTMLHeadingElement>(null)
  const summary = useRef<HTMLDivElement>(null)
  const conflictBox = useRef<HTMLDivElement>(null)

  useEffect(() => {
    if (id === undefined) return
    fetchEntry(id).then(
      (loaded) => {
        setForm(formOf(loaded.entry))
        setEtag(loaded.etag)
        setTitle(`Edit ${loaded.entry.full_name}`)
      },
      (error: unknown) => {
        setLoadProblem(error instanceof ApiError && error.status === 404 ? 'This entry does not exist: it may have been deleted.' : messageOf(error))
      },
    )
  }, [id])
  useEffect(() => {
    heading.current?.focus()
  }, [form === null])
  useEffect(() => {
    if (fieldErrors.length > 0 || formProblem !== '') summary.current?.focus()
  }, [fieldErrors, formProblem])
  useEffect(() => {
    if (conflict || gone) conflictBox.current?.focus()
  }, [conflict, gone])

  const title = id === undefined ? 'New entry' : 'Edit entry'
  if (form === null) {
    return (
      <section class="editor">
        <h1 ref={heading} tabIndex={-1}>
          {title}
        </h1>
        {loadProblem === '' ? <p>Loading…</p> : <p class="error">{loadProblem}</p>}
      </section>
    )
  }

  const clearProblems = () => {
    setErrors(new Map())
    setFieldErrors([])
    setFormProblem('')
  }
  const update = (next: EntryForm) => {
    setForm(next)
  }
  const refused = (error: unknown) => {
    if (id !== undefined && error instanceof ApiError && error.status === 412) {
      // A 412 also answers a write to an entry that no longer exists: ask which it is.
      currentEtag(id).then(
        () => {
          setConflict(true)
        },
        (reason: unknown) => {
          if (reason instanceof ApiError && reason.status === 404) setGone(true)
          else setConflict(true)
        },
      )
      return
    }
    if (id !== undefined && error instanceof ApiError && error.status === 404) {
      setGone(true)
      return
    }
    const list = error instanceof ApiError ? (error.problem.errors ?? []) : []
    setErrors(new Map(list.map((item) => [item.path, item.message])))
    setFieldErrors(list)
    setFormProblem(list.length > 0 ? '' : messageOf(error))
  }
  const saved = (savedId: string, message: string) => {
    changed(message)
    navigate({ name: 'entry', id: savedId })
  }

  const save = (event: SubmitEvent) => {
    event.preventDefault()
    if (saving) return
    clearProblems()
    setConflict(false)
    setGone(false)
    setSaving(true)
    const entry = entryOf(form)
    const name = form.full_name.trim()
    const request =
      id === undefined
        ? createEntry(entry).then((created) => {
            saved(created.id, `Created ${name}.`)
          })
        : updateEntry(id, entry, etag).then((newEtag) => {
            setEtag(newEtag)
            saved(id, `Saved ${name}.`)
          })
    request.catch(refused).finally(() => {
      setSaving(false)
    })
  }

  const reloadTheirs = () => {
    if (id === undefined) return
    fetchEntry(id).then(
      (loaded) => {
        setForm(formOf(loaded.entry))
        setEtag(loaded.etag)
        setConflict(false)
        clearProblems()
        changed('Loaded their version; your changes were set aside.')
        heading.current?.focus()
      },
      (error: unknown) => {
        setConflict(false)
        refused(error)
      },
    )
  }
  const overwrite = () => {
    if (id === undefined) return
    setSaving(true)
    const name = form.full_name.trim()
    currentEtag(id)
      .then((theirs) => updateEntry(id, entryOf(form), theirs))
      .then(
        (newEtag) => {
          setEtag(newEtag)
          setConflict(false)
          saved(id, `Saved ${name} over their version.`)
        },
        (error: unknown) => {
          setConflict(false)
          refused(error)
        },
      )
      .finally(() => {
        setSaving(false)
      })
  }

  const saveAsNew = () => {
    setSaving(true)
    const name = form.full_name.trim()
    createEntry(entryOf(form))
      .then((created) => {
        setGone(false)
        saved(created.id, `Created ${name} again.`)
      }, refused)
      .finally(() => {
        setSaving(false)
      })
  }

  const text = (name: 'full_name' | 'nickname' | 'organization' | 'job_title' | 'birthday' | 'notes') => ({
    path: `/${name}`,
    value: form[name],
    errors,
    onValue: (value: string) => {
      update({ ...form, [name]: value })
    },
  })
  const list = <L extends ListName>(name: L) => ({
    rows: form[name],
    set: (rows: EntryForm[L]) => {
      // The server's paths name rows by index: once rows move, its errors point at the wrong ones.
      setErrors(new Map([...errors].filter(([path]) => !path.startsWith(`/${name}/`))))
      update({ ...form, [name]: rows })
    },
  })

  return (
    <section class="editor" aria-labelledby="editor-title">
      <h1 id="editor-title" ref={heading} tabIndex={-1}>
        {id === undefined ? title : `Edit ${form.full_name.trim() === '' ? 'entry' : form.full_name}`}
      </h1>
      {conflict && (
        <div class="conflict" role="alert" tabIndex={-1} ref={conflictBox}>
          <p>
            <strong>Someone else changed this entry</strong> since you opened it. Your changes were not saved.
          </p>
          <div class="actions">
            <button type="button" class="button" onClick={reloadTheirs} disabled={saving}>
              Reload their version
            </button>
            <button type="button" class="button danger" onClick={overwrite} disabled={saving}>
              Overwrite with mine
            </button>
          </div>
        </div>
      )}
      {gone && (
        <div class="conflict" role="alert" tabIndex={-1} ref={conflictBox}>
          <p>
            <strong>Someone else deleted this entry</strong> while you were editing it. Your changes are still here.
          </p>
          <div class="actions">
            <button type="button" class="button" onClick={saveAsNew} disabled={saving}>
              Save as a new entry
            </button>
            <a class="button quiet" href="#/">
              Discard
            </a>
          </div>
        </div>
      )}
      {(fieldErrors.length > 0 || formProblem !== '') && (
        <div class="problems" role="alert" tabIndex={-1} ref={summary}>
          {formProblem !== '' ? (
            <p>{formProblem}</p>
          ) : (
            <>
              <p>
                The entry was not saved: {fieldErrors.length === 1 ? 'one field needs' : `${fieldErrors.length} fields need`} attention.
              </p>
              <ul>
                {fieldErrors.map((error) => (
                  <li key={`${error.path} ${error.message}`}>
                    <button type="button" class="link-button" onClick={() => document.getElementById(inputId(error.path))?.focus()}>
                      {describePath(error.path)}
                    </button>{' '}
                    {error.message}
                  </li>
                ))}
              </ul>
            </>
          )}
        </div>
      )}
      <form class="entry-form" onSubmit={save} noValidate>
        <fieldset>
          <legend>Name and work</legend>
          <div class="grid">
            <TextField label="Full name" required autoComplete="name" {...text('full_name')} />
            <TextField label="Nickname" autoComplete="nickname" {...text('nickname')} />
            <TextField label="Organization" autoComplete="organization" {...text('organization')} />
            <TextField label="Job title" autoComplete="organization-title" {...text('job_title')} />
            <TextField label="Birthday" hint="YYYY-MM-DD, or --MM-DD without the year" inputMode="numeric" {...text('birthday')} />
          </div>
        </fieldset>

        <Rows title="Phone numbers" singular="phone" name="phone_numbers" errors={errors} {...list('phone_numbers')} empty={emptyRow.phone_numbers}>
          {(row, path, set) => <PhoneFields row={row} path={path} set={set} errors={errors} />}
        </Rows>
        <Rows title="Emails" singular="email" name="emails" errors={errors} {...list('emails')} empty={emptyRow.emails}>
          {(row, path, set) => <EmailFields row={row} path={path} set={set} errors={errors} />}
        </Rows>
        <Rows title="Addresses" singular="address" name="addresses" errors={errors} {...list('addresses')} empty={emptyRow.addresses}>
          {(row, path, set) => <AddressFields row={row} path={path} set={set} errors={errors} />}
        </Rows>
        <Rows title="Fax numbers" singular="fax" name="fax_numbers" errors={errors} {...list('fax_numbers')} empty={emptyRow.fax_numbers}>
          {(row, path, set) => <PhoneFields row={row} path={path} set={set} errors={errors} />}
        </Rows>
        <Rows title="Websites" singular="website" name="urls" errors={errors} {...list('urls')} empty={emptyRow.urls}>
          {(row, path, set) => (
            <TextField label="URL" inputMode="url" hint="https://…" path={path} value={row.url} errors={errors} onValue={(url) => {
              set({ url })
            }} />
          )}
        </Rows>

        <LabelsField
          labels={form.labels}
          errors={errors}
          onLabels={(labels) => {
            update({ ...form, labels })
          }}
        />

        <fieldset>
          <legend>Notes</legend>
          <TextField label="Notes" multiline {...text('notes')} />
        </fieldset>

        <div class="actions sticky-actions">
          <button type="submit" class="button primary" disabled={saving}>
            {saving ? 'Saving…' : id === undefined ? 'Create' : 'Save'}
          </button>
          <a class="button quiet" href={id === undefined ? '#/' : hrefOf({ name: 'entry', id })}>
            Cancel
          </a>
        </div>
      </form>
    </section>
  )
}

/** "/phone_numbers/1/local_number" -> "Phone numbers 2: local number". */
function describePath(path: string): string {
  const labels: Record<string, string> = {
    phone_numbers: 'Phone',
    fax_numbers: 'Fax',
    emails: 'Email',
    addresses: 'Address',
    urls: 'Website',
  }
  const parts = path.split('/').slice(1).map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
  const [field, index, member] = parts
  if (field === undefined || field === '') return 'The entry'
  const name = labels[field] ?? field.replace(/_/g, ' ')
  const where = index === undefined ? name : `${name} ${Number(index) + 1}`
  const capitalized = where.charAt(0).toUpperCase() + where.slice(1)
  return member === undefined ? `${capitalized}:` : `${capitalized}, ${member.replace(/_/g, ' ')}:`
}

interface TextFieldProps {
  label: string
  path: string
  value: string
  errors: Errors
  onValue: (value: string) => void
  required?: boolean
  hint?: string
  inputMode?: 'numeric' | 'tel' | 'email' | 'url' | 'text'
  autoComplete?: string
  multiline?: boolean
}

function TextField({ label, path, value, errors, onValue, required = false, hint, inputMode, autoComplete, multiline = false }: TextFieldProps) {
  const id = inputId(path)
  const error = errors.get(path)
  const described = [error === undefined ? undefined : `${id}-error`, hint === undefined ? undefined : `${id}-hint`].filter(Boolean).join(' ')
  const common = {
    id,
    name: path,
    value,
    'aria-invalid': error !== undefined,
    'aria-required': required,
    'aria-describedby': described === '' ? undefined : described,
  }
  return (
    <div class={`field${multiline ? ' wide' : ''}`}>
      <label for={id}>
        {label}
        {required && <span class="required" aria-hidden="true"> *</span>}
      </label>
      {multiline ? (
        <textarea {...common} rows={5} onInput={(event) => {
          onValue(event.currentTarget.value)
        }} />
      ) : (
        <input {...common} type="text" inputMode={inputMode} autoComplete={autoComplete ?? 'off'} onInput={(event) => {
          onValue(event.currentTarget.value)
        }} />
      )}
      {hint !== undefined && (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {error !== undefined && (
        <p class="field-error" id={`${id}-error`}>
          {error}
        </p>
      )}
    </div>
  )
}

function KindField({ path, value, kinds, errors, onValue }: { path: string; value: string; kinds: readonly string[]; errors: Errors; onValue: (value: string) => void }) {
  const id = inputId(path)
  const error = errors.get(path)
  return (
    <div class="field kind">
      <label for={id}>Kind</label>
      <select id={id} name={path} value={value} aria-invalid={error !== undefined} aria-describedby={error === undefined ? undefined : `${id}-error`} onChange={(event) => {
        onValue(event.currentTarget.value)
      }}>
        {kinds.map((kind) => (
          <option key={kind} value={kind}>
            {kind}
          </option>
        ))}
      </select>
      {error !== undefined && (
        <p class="field-error" id={`${id}-error`}>
          {error}
        </p>
      )}
    </div>
  )
}

interface RowsProps<Row> {
  title: string
  singular: string
  name: ListName
  rows: Row[]
  set: (rows: Row[]) => void
  empty: () => Row
  errors: Errors
  children: (row: Row, path: string, set: (row: Row) => void) => ComponentChildren
}

/** A repeatable group (phones, emails, …): a fieldset per row, with Add and Remove. */
function Rows<Row>({ title, singular, name, rows, set, empty, errors, children }: RowsProps<Row>) {
  const addButton = useRef<HTMLButtonElement>(null)
  const listError = errors.get(`/${name}`)
  const add = () => {
    set([...rows, empty()])
    // Focus the new row's first control once it is on the page.
    requestAnimationFrame(() => {
      document.getElementById(`row-${name}-${rows.length}`)?.querySelector<HTMLElement>('select, input, textarea')?.focus()
    })
  }
  return (
    <fieldset class="rows">
      <legend>{title}</legend>
      {listError !== undefined && <p class="field-error">{listError}</p>}
      {rows.map((row, index) => {
        const path = `/${name}/${index}`
        // A website row is its one input, which shows its own error.
        const rowError = name === 'urls' ? undefined : errors.get(path)
        const label = `${singular.charAt(0).toUpperCase()}${singular.slice(1)} ${index + 1}`
        return (
          <div class="row" id={`row-${name}-${index}`} key={index} role="group" aria-label={label}>
            {children(row, path, (changed) => {
              set(rows.map((old, at) => (at === index ? changed : old)))
            })}
            <button
              type="button"
              class="button quiet remove"
              aria-label={`Remove ${singular} ${index + 1}`}
              onClick={() => {
                set(rows.filter((_, at) => at !== index))
                addButton.current?.focus()
              }}
            >
              Remove
            </button>
            {rowError !== undefined && <p class="field-error">{rowError}</p>}
          </div>
        )
      })}
      <button type="button" class="button" ref={addButton} onClick={add}>
        Add {singular}
      </button>
    </fieldset>
  )
}

function PhoneFields({ row, path, set, errors }: { row: PhoneRow; path: string; set: (row: PhoneRow) => void; errors: Errors }) {
  const field = (member: 'country_code' | 'area_code' | 'local_number', label: string, required: boolean) => (
    <TextField label={label} required={required} inputMode="numeric" path={`${path}/${member}`} value={row[member]} errors={errors} onValue={(value) => {
      set({ ...row, [member]: value })
    }} />
  )
  return (
    <div class="grid phone">
      <KindField path={`${path}/kind`} value={row.kind} kinds={PHONE_KINDS} errors={errors} onValue={(kind) => {
        set({ ...row, kind })
      }} />
      {field('country_code', 'Country code', true)}
      {field('area_code', 'Area code', false)}
      {field('local_number', 'Number', true)}
    </div>
  )
}

function EmailFields({ row, path, set, errors }: { row: EmailRow; path: string; set: (row: EmailRow) => void; errors: Errors }) {
  return (
    <div class="grid email">
      <KindField path={`${path}/kind`} value={row.kind} kinds={KINDS} errors={errors} onValue={(kind) => {
        set({ ...row, kind })
      }} />
      <TextField label="Email" required inputMode="email" autoComplete="email" path={`${path}/email`} value={row.email} errors={errors} onValue={(email) => {
        set({ ...row, email })
      }} />
    </div>
  )
}

const ADDRESS_FIELDS: readonly { member: Exclude<keyof AddressRow, 'kind'>; label: string; required?: boolean; numeric?: boolean }[] = [
  { member: 'building_name', label: 'Building' },
  { member: 'unit_number', label: 'Unit', numeric: true },
  { member: 'street_number', label: 'Street number' },
  { member: 'street_name', label: 'Street', required: true },
  { member: 'locality', label: 'Locality' },
  { member: 'city', label: 'City' },
  { member: 'province', label: 'Province or state' },
  { member: 'pincode', label: 'Postal code', required: true },
  { member: 'country', label: 'Country', required: true },
]

function AddressFields({ row, path, set, errors }: { row: AddressRow; path: string; set: (row: AddressRow) => void; errors: Errors }) {
  return (
    <div class="grid address">
      <KindField path={`${path}/kind`} value={row.kind} kinds={KINDS} errors={errors} onValue={(kind) => {
        set({ ...row, kind })
      }} />
      {ADDRESS_FIELDS.map(({ member, label, required = false, numeric = false }) => (
        <TextField
          key={member}
          label={label}
          required={required}
          {...(numeric ? { inputMode: 'numeric' as const } : {})}
          path={`${path}/${member}`}
          value={row[member]}
          errors={errors}
          onValue={(value) => {
            set({ ...row, [member]: value })
          }}
        />
      ))}
    </div>
  )
}
