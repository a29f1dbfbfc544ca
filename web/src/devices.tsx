import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { ApiError, createKey, credential, currentOwner, listKeys, revokeKey, type DeviceKey, type KeyScope } from './api.js'
import { ConfirmDialog } from './dialog.js'
import { messageOf } from './messages.js'
import { mobileconfig, MOBILECONFIG_TYPE } from './mobileconfig.js'

/** The owner of an authentication-off service, as the DAV routes name it. */
const DEFAULT_OWNER = 'default'
const MAX_LABEL = 100

type Keys = { state: 'loading' } | { state: 'none' } | { state: 'listed'; keys: DeviceKey[] } | { state: 'failed'; message: string }

interface Created {
  key: string
  label: string
}

/**
 * Connect a phone, a Mac or Thunderbird over CardDAV: the server's address and the user name to
 * type, a password made for the device (a key of the caller's own, shown once), an Apple profile
 * that holds all three, and the keys made so far, each revocable.
 */
export function Devices() {
  const [keys, setKeys] = useState<Keys>({ state: 'loading' })
  const [knownOwner, setKnownOwner] = useState<string | null>(null)
  const [typedOwner, setTypedOwner] = useState('')
  const [ownerChecked, setOwnerChecked] = useState(false)
  const [created, setCreated] = useState<Created | null>(null)
  const [revoking, setRevoking] = useState<DeviceKey | null>(null)
  const [revokeBusy, setRevokeBusy] = useState(false)
  const [status, setStatus] = useState('')
  const heading = useRef<HTMLHeadingElement>(null)

  const refresh = useCallback(async () => {
    try {
      const listed = await listKeys()
      setKeys(listed === null ? { state: 'none' } : { state: 'listed', keys: listed })
    } catch (error) {
      setKeys({ state: 'failed', message: messageOf(error) })
    }
  }, [])

  useEffect(() => {
    heading.current?.focus()
    void refresh()
    currentOwner().then(
      (owner) => {
        setKnownOwner(owner)
        setOwnerChecked(true)
      },
      () => {
        // Without an answer from the DAV root, the person types the name (the form says so).
        setOwnerChecked(true)
      },
    )
  }, [refresh])

  const owner = knownOwner ?? (keys.state === 'none' ? DEFAULT_OWNER : typedOwner.trim())
  const sessionKeyId = /^addr_([0-9a-f]{16})_/.exec(credential.get() ?? '')?.[1]

  const revoke = async () => {
    if (revoking === null) return
    setRevokeBusy(true)
    try {
      await revokeKey(revoking.id)
      setStatus(`Revoked ${revoking.label ?? 'the key'}: it no longer opens the address book.`)
      setRevoking(null)
      await refresh()
    } catch (error) {
      setRevoking(null)
      setStatus('')
      setKeys({ state: 'failed', message: `The key was not revoked: ${messageOf(error)}` })
    } finally {
      setRevokeBusy(false)
    }
  }

  return (
    <section class="devices" aria-labelledby="devices-title">
      <h1 id="devices-title" ref={heading} tabIndex={-1}>
        Connect a device
      </h1>
      <p>Your phone, Mac or Thunderbird can keep this address book in sync over CardDAV. Add an account there with:</p>
      <dl class="connection">
        <div>
          <dt>Server</dt>
          <dd>
            <code>{location.origin}</code>
          </dd>
        </div>
        <div>
          <dt>User name</dt>
          <dd>
            {knownOwner !== null || keys.state === 'none' ? (
              <code>{owner}</code>
            ) : ownerChecked ? (
              <OwnerField value={typedOwner} onInput={setTypedOwner} />
            ) : (
              'Finding out…'
            )}
          </dd>
        </div>
        <div>
          <dt>Password</dt>
          <dd>{keys.state === 'none' ? 'none: this service asks no one to sign in (leave it empty, or type anything the app insists on)' : 'a device password, made below'}</dd>
        </div>
      </dl>

      <h2>How</h2>
      <ul class="how-to">
        <li>
          <strong>iPhone, iPad:</strong> Settings → Apps → Contacts → Contacts Accounts → Add Account → Other → Add CardDAV Account; or install the
          profile offered below.
        </li>
        <li>
          <strong>Mac:</strong> System Settings → Internet Accounts → Add Other Account → CardDAV account (Manual); or open the profile.
        </li>
        <li>
          <strong>Android (DAVx⁵):</strong> + → Login with URL and user name, with the server, user name and password above.
        </li>
        <li>
          <strong>Thunderbird:</strong> Address Book → New Address Book → Add CardDAV Address Book, with the user name and the server.
        </li>
      </ul>

      {keys.state === 'none' && (
        <>
          <p class="info">Devices connect without a password here: this service has authentication off.</p>
          <OpenServiceProfile owner={owner} />
        </>
      )}
      {keys.state === 'failed' && (
        <p class="error" role="alert">
          {keys.message}
        </p>
      )}
      {(keys.state === 'listed' || keys.state === 'failed') && (
        <>
          <h2>A password for a device</h2>
          <NewKeyForm
            onCreated={(key, label) => {
              setCreated({ key, label })
              setStatus('')
              void refresh()
            }}
          />
          {created !== null && <CreatedKey created={created} owner={owner} onStatus={setStatus} />}
        </>
      )}
      <p class="visually-hidden" role="status" aria-live="polite">
        {status}
      </p>

      {keys.state === 'listed' && (
        <>
          <h2 id="keys-title">Your device passwords</h2>
          {keys.keys.length === 0 ? (
            <p>None yet.</p>
          ) : (
            <KeyTable
              keys={keys.keys}
              sessionKeyId={sessionKeyId}
              onRevoke={(key) => {
                setRevoking(key)
              }}
            />
          )}
        </>
      )}
      {keys.state === 'loading' && <p aria-live="polite">Loading your device passwords…</p>}

      <ConfirmDialog
        open={revoking !== null}
        title={`Revoke ${revoking?.label ?? 'this key'}?`}
        confirmLabel="Revoke"
        busy={revokeBusy}
        onConfirm={() => void revoke()}
        onCancel={() => {
          setRevoking(null)
        }}
      >
        <p>The device stops syncing at once and cannot sign in with this password again.</p>
        {revoking !== null && revoking.id === sessionKeyId && <p class="error">This browser signed in with it: you will be signed out.</p>}
      </ConfirmDialog>
    </section>
  )
}

function OwnerField({ value, onInput }: { value: string; onInput: (value: string) => void }) {
  return (
    <div class="field">
      <label for="device-owner">Your user name</label>
      <input
        id="device-owner"
        autoComplete="username"
        spellcheck={false}
        value={value}
        aria-describedby="device-owner-hint"
        onInput={(event) => {
          onInput(event.currentTarget.value)
        }}
      />
      <p id="device-owner-hint" class="hint">
        The owner your key was made for (<code>--owner</code>); the server did not say it.
      </p>
    </div>
  )
}

function NewKeyForm({ onCreated }: { onCreated: (key: string, label: string) => void }) {
  const [label, setLabel] = useState('')
  const [scope, setScope] = useState<KeyScope>('write')
  const [busy, setBusy] = useState(false)
  const [problem, setProblem] = useState('')
  const [labelProblem, setLabelProblem] = useState('')
  const labelInput = useRef<HTMLInputElement>(null)

  const submit = async (event: SubmitEvent) => {
    event.preventDefault()
    const trimmed = label.trim()
    setProblem('')
    if (trimmed === '') {
      setLabelProblem('Name the device, so that you know which password to revoke when it is lost.')
      labelInput.current?.focus()
      return
    }
    setLabelProblem('')
    setBusy(true)
    try {
      const created = await createKey(trimmed, scope)
      setLabel('')
      onCreated(created.key, trimmed)
    } catch (error) {
      const onLabel = error instanceof ApiError ? error.problem.errors?.find((item) => item.path.startsWith('/label')) : undefined
      if (onLabel !== undefined) {
        setLabelProblem(onLabel.message)
        labelInput.current?.focus()
      }
      setProblem(messageOf(error))
    } finally {
      setBusy(false)
    }
  }

  return (
    <form class="new-key" onSubmit={(event) => void submit(event)} noValidate>
      <div class="new-key-fields">
        <div class="field">
          <label for="device-label">
            Device <span class="required" aria-hidden="true">*</span>
          </label>
          <input
            id="device-label"
            ref={labelInput}
            required
            maxLength={MAX_LABEL}
            placeholder="Maria's iPhone"
            value={label}
            aria-invalid={labelProblem !== ''}
            aria-describedby={labelProblem === '' ? 'device-label-hint' : 'device-label-hint device-label-error'}
            onInput={(event) => {
              setLabel(event.currentTarget.value)
            }}
          />
        </div>
        <div class="field">
          <label for="device-scope">Access</label>
          <select
            id="device-scope"
            value={scope}
            onChange={(event) => {
              setScope(event.currentTarget.value === 'read' ? 'read' : 'write')
            }}
          >
            <option value="write">Read and change</option>
            <option value="read">Read only</option>
          </select>
        </div>
      </div>
      <p id="device-label-hint" class="hint">
        One password per device: revoke it when the device is lost, and nothing else stops working.
      </p>
      {labelProblem !== '' && (
        <p id="device-label-error" class="field-error">
          {labelProblem}
        </p>
      )}
      {problem !== '' && problem !== labelProblem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      <div class="actions">
        <button class="button primary" type="submit" disabled={busy}>
          {busy ? 'Creating…' : 'Create device password'}
        </button>
      </div>
    </form>
  )
}

/** A link to an Apple profile for the owner's account (none while the owner is not known), revoked when left. */
function useProfileUrl(owner: string, password: string | undefined, description: string): string {
  const [profileUrl, setProfileUrl] = useState('')
  useEffect(() => {
    if (owner === '') {
      setProfileUrl('')
      return
    }
    const profile = mobileconfig({ url: new URL(location.href), owner, password, description })
    const url = URL.createObjectURL(new Blob([profile], { type: MOBILECONFIG_TYPE }))
    setProfileUrl(url)
    return () => {
      URL.revokeObjectURL(url)
    }
  }, [owner, password, description])
  return profileUrl
}

function ProfileLink({ url }: { url: string }) {
  return (
    <a class="button" href={url} download="addrservice.mobileconfig" type={MOBILECONFIG_TYPE}>
      Download profile (.mobileconfig)
    </a>
  )
}

/** With authentication off: a profile without a password (a device that insists on one may be given anything). */
function OpenServiceProfile({ owner }: { owner: string }) {
  const profileUrl = useProfileUrl(owner, undefined, 'this address book')
  return (
    <p>
      On an iPhone, iPad or Mac, the profile sets up the account in one step: {profileUrl === '' ? 'preparing it…' : <ProfileLink url={profileUrl} />}
    </p>
  )
}

function CreatedKey({ created, owner, onStatus }: { created: Created; owner: string; onStatus: (message: string) => void }) {
  const box = useRef<HTMLDivElement>(null)
  const field = useRef<HTMLInputElement>(null)

  useEffect(() => {
    box.current?.focus()
  }, [created])

  const profileUrl = useProfileUrl(owner, created.key, created.label)

  const copy = async () => {
    try {
      // navigator.clipboard is missing outside a secure context (a service on plain http on the network).
      if (!isSecureContext) throw new Error('no clipboard')
      await navigator.clipboard.writeText(created.key)
      onStatus('Copied the device password.')
    } catch {
      field.current?.select()
      onStatus('This browser did not let the page copy: the password is selected, copy it with Ctrl+C or ⌘C.')
    }
  }

  return (
    <div class="outcome success created-key" ref={box} tabIndex={-1} aria-labelledby="created-key-title">
      <h3 id="created-key-title">The password for {created.label}</h3>
      <p>
        <strong>It is shown only this once.</strong> Type or paste it into the device now; the server keeps no copy it could show again.
      </p>
      <div class="field">
        <label for="device-password">Device password</label>
        <div class="key-row">
          <input
            id="device-password"
            ref={field}
            readOnly
            value={created.key}
            spellcheck={false}
            autoComplete="off"
            onFocus={(event) => {
              event.currentTarget.select()
            }}
          />
          <button type="button" class="button" onClick={() => void copy()}>
            Copy
          </button>
        </div>
      </div>
      <p>
        On an iPhone, iPad or Mac, the profile sets up the account in one step, password included (keep the file to yourself):{' '}
        {profileUrl === '' ? (
          'type your user name above first.'
        ) : (
          <ProfileLink url={profileUrl} />
        )}
      </p>
    </div>
  )
}

const WHEN = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })

function When({ at }: { at: string }) {
  return <time dateTime={at}>{WHEN.format(new Date(at))}</time>
}

function KeyTable({ keys, sessionKeyId, onRevoke }: { keys: DeviceKey[]; sessionKeyId: string | undefined; onRevoke: (key: DeviceKey) => void }) {
  return (
    <div class="table-scroll">
      <table aria-labelledby="keys-title" class="keys">
        <thead>
          <tr>
            <th scope="col">Device</th>
            <th scope="col">Access</th>
            <th scope="col">Created</th>
            <th scope="col">Last used</th>
            <th scope="col">
              <span class="visually-hidden">Status</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {keys.map((key) => (
            <tr key={key.id} class={key.revoked_at === null ? undefined : 'revoked'}>
              <th scope="row">
                {key.label ?? <span class="hint">(no name, {key.id})</span>}
                {key.id === sessionKeyId && <span class="hint"> (this browser)</span>}
              </th>
              <td>{key.scope === 'read' ? 'Read only' : 'Read and change'}</td>
              <td>
                <When at={key.created_at} />
              </td>
              <td>{key.last_used_at === null ? 'never' : <When at={key.last_used_at} />}</td>
              <td>
                {key.revoked_at !== null ? (
                  <>
                    Revoked <When at={key.revoked_at} />
                  </>
                ) : (
                  <button
                    type="button"
                    class="button danger"
                    aria-label={`Revoke ${key.label ?? key.id}`}
                    onClick={() => {
                      onRevoke(key)
                    }}
                  >
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
