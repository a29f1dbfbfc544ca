import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { credential, probe, UnauthorizedError, whenUnauthorized } from './api.js'
import { Devices } from './devices.js'
import { EntryEditor } from './entry-editor.js'
import { EntryList } from './entry-list.js'
import { EntryView } from './entry-view.js'
import { Labels } from './labels.js'
import { hrefOf, labelOf, replaceSearch, screenOf, searchOf, setTitle, type Screen } from './route.js'
import { SignIn } from './sign-in.js'
import { Toast, type Changed, type Notice, type Undo } from './toast.js'
import { Transfer } from './transfer.js'
import { Trash } from './trash.js'

type Session = 'checking' | 'signed-out' | 'signed-in'

const REFUSED_AT_SIGN_IN = 'The server did not accept that key or token. Check it and try again.'
const REFUSED_LATER = 'Your session has ended: the server no longer accepts your key or token (it may have expired or been revoked). Sign in again.'

export function App() {
  const [session, setSession] = useState<Session>('checking')
  const [signInMessage, setSignInMessage] = useState('')
  const [screen, setScreen] = useState<Screen>(() => screenOf(location.hash))
  const [q, setQ] = useState(() => searchOf(location.search))
  const [label, setLabel] = useState(() => labelOf(location.search))
  /** Bumped after every write, so the list reads the book again. */
  const [bookVersion, setBookVersion] = useState(0)
  const [notice, setNotice] = useState<Notice>({ message: '', serial: 0 })
  const sessionRef = useRef(session)
  sessionRef.current = session

  useEffect(() => {
    whenUnauthorized(() => {
      const hadCredential = credential.get() !== null
      credential.clear()
      setSignInMessage(!hadCredential ? '' : sessionRef.current === 'signed-in' ? REFUSED_LATER : REFUSED_AT_SIGN_IN)
      setSession('signed-out')
    })
    probe().then(
      () => {
        setSession('signed-in')
      },
      (error: unknown) => {
        // A 401 has already sent the app to its sign-in screen; anything else is shown where the list would be.
        if (!(error instanceof UnauthorizedError)) setSession('signed-in')
      },
    )
    const onHashChange = () => {
      setScreen(screenOf(location.hash))
    }
    addEventListener('hashchange', onHashChange)
    return () => {
      removeEventListener('hashchange', onHashChange)
    }
  }, [])

  useEffect(() => {
    // Entry screens name their entry once it is loaded; until then, and elsewhere, the screen's name.
    const titles: Record<Screen['name'], string> = {
      home: '',
      entry: '',
      edit: 'Edit entry',
      new: 'New entry',
      transfer: 'Import and export',
      devices: 'Connect a device',
      labels: 'Labels',
      trash: 'Trash',
    }
    setTitle(session === 'signed-out' ? 'Sign in' : titles[screen.name])
  }, [screen, session])

  const search = useCallback((value: string) => {
    replaceSearch(value)
    setQ(value)
  }, [])
  const filter = useCallback((value: string) => {
    replaceSearch(value, 'label')
    setLabel(value)
  }, [])
  const changed = useCallback<Changed>((message: string, undo?: Undo) => {
    setBookVersion((version) => version + 1)
    setNotice((shown) => ({ message, undo, serial: shown.serial + 1 }))
  }, [])
  const dismiss = useCallback(() => {
    setNotice((shown) => ({ message: '', serial: shown.serial + 1 }))
  }, [])
  const signOut = () => {
    credential.clear()
    setSignInMessage('You have signed out.')
    setSession('signed-out')
  }

  if (session === 'checking') return <p class="loading-page">Loading…</p>
  if (session === 'signed-out') {
    return (
      <SignIn
        message={signInMessage}
        onSignedIn={() => {
          setSignInMessage('')
          setSession('signed-in')
        }}
      />
    )
  }

  return (
    <div class="shell" data-screen={screen.name}>
      <a class="skip-link" href="#main" onClick={skipToMain}>
        Skip to content
      </a>
      <header class="top-bar">
        <a class="brand" href="#/">
          Address book
        </a>
        <nav aria-label="Actions" class="top-actions">
          <a class="button primary" href="#/new" aria-current={screen.name === 'new' ? 'page' : undefined}>
            New entry
          </a>
          <a class="button" href="#/transfer" aria-current={screen.name === 'transfer' ? 'page' : undefined}>
            Import / export
          </a>
          <a class="button" href="#/devices" aria-current={screen.name === 'devices' ? 'page' : undefined}>
            Connect a device
          </a>
          <a class="button" href="#/trash" aria-current={screen.name === 'trash' ? 'page' : undefined}>
            Trash
          </a>
          {credential.get() !== null && (
            <button type="button" class="button quiet" onClick={signOut}>
              Sign out
            </button>
          )}
        </nav>
      </header>
      <div class="panes">
        <section class="list-pane" aria-label="Entries">
          <EntryList
            q={q}
            onSearch={search}
            label={label}
            onLabel={filter}
            bookVersion={bookVersion}
            selectedId={'id' in screen ? screen.id : undefined}
            changed={changed}
          />
        </section>
        <main id="main" class="detail-pane" tabIndex={-1}>
          <Detail screen={screen} q={q} bookVersion={bookVersion} changed={changed} />
        </main>
      </div>
      <Toast notice={notice} screen={hrefOf(screen)} dismiss={dismiss} undone={changed} />
    </div>
  )
}

function skipToMain(event: MouseEvent) {
  // The hash routes the app: move focus without touching it.
  event.preventDefault()
  document.getElementById('main')?.focus()
}

function Detail({ screen, q, bookVersion, changed }: { screen: Screen; q: string; bookVersion: number; changed: Changed }) {
  switch (screen.name) {
    case 'home':
      return (
        <div class="placeholder">
          <p>Choose an entry from the list, or create a new one.</p>
        </div>
      )
    case 'entry':
      return <EntryView key={screen.id} id={screen.id} changed={changed} />
    case 'edit':
      return <EntryEditor key={`edit-${screen.id}`} id={screen.id} changed={changed} />
    case 'new':
      return <EntryEditor key="new" changed={changed} />
    case 'transfer':
      return <Transfer q={q} changed={changed} />
    case 'devices':
      return <Devices />
    case 'labels':
      return <Labels changed={changed} />
    case 'trash':
      return <Trash bookVersion={bookVersion} changed={changed} />
  }
}
