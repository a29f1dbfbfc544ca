import { useEffect, useRef, useState } from 'preact/hooks'
import { messageOf } from './messages.js'

/** Takes a change back, and answers what to tell the person then. */
export type Undo = () => Promise<string>

/** Says what a change made, and may offer to take it back: the book is read again. */
export type Changed = (message: string, undo?: Undo) => void

/** A message for the toast; `serial` tells two equal messages apart, so each gets its full time. */
export interface Notice {
  message: string
  undo?: Undo | undefined
  serial: number
}

/** How long a message stays: long enough to read, and, with Undo, to reach the button. */
const NOTICE_MS = 6000
const UNDO_MS = 8000

interface Props {
  notice: Notice
  /** Changes when the screen changes: focus may have been lost with the screen that went. */
  screen: string
  dismiss: () => void
  /** What taking the change back said: shown next, with the book read again. */
  undone: (message: string) => void
}

/**
 * The toast at the bottom of the window, a polite live region. Its time stands still while the
 * pointer or focus is on it, so nobody loses the Undo button while reaching for it; when a delete
 * left focus nowhere (its row or its screen went), Undo takes it, so the keyboard is one Enter away.
 */
export function Toast({ notice, screen, dismiss, undone }: Props) {
  const [held, setHeld] = useState(false)
  const [undoing, setUndoing] = useState(false)
  const region = useRef<HTMLDivElement>(null)
  const undoButton = useRef<HTMLButtonElement>(null)
  const { message, undo, serial } = notice

  useEffect(() => {
    setUndoing(false)
  }, [serial])

  useEffect(() => {
    if (message === '' || held) return
    const timer = setTimeout(dismiss, undo === undefined ? NOTICE_MS : UNDO_MS)
    return () => {
      clearTimeout(timer)
    }
  }, [serial, message, undo, held, dismiss])

  useEffect(() => {
    if (undo === undefined) return
    // After the dialog that asked, and the screen it was on, have let go of focus.
    const timer = setTimeout(() => {
      if (focusIsLost()) undoButton.current?.focus()
    }, 0)
    return () => {
      clearTimeout(timer)
    }
  }, [serial, undo, screen])

  const close = (next: () => void) => {
    const hadFocus = region.current?.contains(document.activeElement) === true
    setHeld(false)
    next()
    // The buttons go with the message: focus goes on to the content rather than to nowhere.
    if (hadFocus) document.getElementById('main')?.focus()
  }

  const takeBack = () => {
    if (undo === undefined) return
    setUndoing(true)
    undo().then(
      (said) => {
        close(() => {
          undone(said)
        })
      },
      (error: unknown) => {
        close(() => {
          undone(messageOf(error))
        })
      },
    )
  }

  return (
    <div
      ref={region}
      class="notice"
      role="status"
      aria-live="polite"
      onMouseEnter={() => {
        setHeld(true)
      }}
      onMouseLeave={() => {
        setHeld(region.current?.contains(document.activeElement) === true)
      }}
      onFocusIn={() => {
        setHeld(true)
      }}
      onFocusOut={(event) => {
        if (!(event.relatedTarget instanceof Node && event.currentTarget.contains(event.relatedTarget))) setHeld(false)
      }}
      onKeyDown={(event) => {
        if (event.key === 'Escape') close(dismiss)
      }}
    >
      {message !== '' && <span class="notice-text">{message}</span>}
      {message !== '' && undo !== undefined && (
        <>
          <button type="button" class="notice-button" ref={undoButton} onClick={takeBack} disabled={undoing}>
            {undoing ? 'Undoing…' : 'Undo'}
          </button>
          <button
            type="button"
            class="notice-button"
            aria-label="Dismiss"
            onClick={() => {
              close(dismiss)
            }}
          >
            ×
          </button>
        </>
      )}
    </div>
  )
}

/** Whether focus is nowhere useful: on the page itself, or on a button that a change just disabled. */
function focusIsLost(): boolean {
  const active = document.activeElement
  return active === null || active === document.body || (active instanceof HTMLButtonElement && active.disabled)
}
