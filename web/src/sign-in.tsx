import { useEffect, useRef, useState } from 'preact/hooks'
import { credential, probe, UnauthorizedError } from './api.js'

/** The screen of a service with authentication on: a pasted API key or JWT becomes this tab's credential. */
export function SignIn({ message, onSignedIn }: { message: string; onSignedIn: () => void }) {
  const [value, setValue] = useState('')
  const [problem, setProblem] = useState('')
  const [busy, setBusy] = useState(false)
  const input = useRef<HTMLInputElement>(null)

  useEffect(() => {
    input.current?.focus()
  }, [message])

  const submit = async (event: SubmitEvent) => {
    event.preventDefault()
    const pasted = value.trim().replace(/^Bearer\s+/i, '')
    if (pasted === '' || /\s/.test(pasted)) {
      setProblem(pasted === '' ? 'Paste your API key or token.' : 'A key or token has no spaces in it: paste it again.')
      input.current?.focus()
      return
    }
    setProblem('')
    setBusy(true)
    credential.set(pasted)
    try {
      await probe()
      onSignedIn()
    } catch (error) {
      // A 401 re-renders this screen with the app's message; anything else is said here.
      if (!(error instanceof UnauthorizedError)) {
        credential.clear()
        setProblem(error instanceof Error ? error.message : String(error))
      }
    } finally {
      setBusy(false)
    }
  }

  const shown = problem === '' ? message : problem
  return (
    <main class="sign-in" id="main">
      <form class="card" onSubmit={(event) => void submit(event)} noValidate>
        <h1>Sign in to your address book</h1>
        <p>This service asks who you are. Paste an API key or a token.</p>
        {shown !== '' && (
          <p class={shown === 'You have signed out.' ? 'info' : 'error'} role="alert">
            {shown}
          </p>
        )}
        <div class="field">
          <label for="credential">API key or token</label>
          <input
            id="credential"
            ref={input}
            type="password"
            autoComplete="off"
            spellcheck={false}
            value={value}
            onInput={(event) => {
              setValue(event.currentTarget.value)
            }}
            aria-describedby="credential-hint"
            aria-invalid={problem !== ''}
          />
          <p id="credential-hint" class="hint">
            An API key looks like <code>addr_…</code>; whoever runs the service creates one with{' '}
            <code>addrservice keys create --owner you</code>. A JSON Web Token from your identity provider works too. It is kept
            in this tab only, until you sign out or close it.
          </p>
        </div>
        <button class="button primary" type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  )
}
