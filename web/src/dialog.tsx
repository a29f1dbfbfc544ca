import type { ComponentChildren } from 'preact'
import { useEffect, useId, useRef } from 'preact/hooks'

interface Props {
  open: boolean
  title: string
  children: ComponentChildren
  confirmLabel: string
  onConfirm: () => void
  onCancel: () => void
  busy?: boolean
}

/**
 * A modal question, on the browser's own <dialog>: showModal() makes the rest of the page inert
 * and Escape cancels; Tab cycles through the dialog's buttons (the browser would let it leave for
 * its own toolbar), and focus goes back to where it was when it closes.
 */
export function ConfirmDialog({ open, title, children, confirmLabel, onConfirm, onCancel, busy = false }: Props) {
  const dialog = useRef<HTMLDialogElement>(null)
  const cancelButton = useRef<HTMLButtonElement>(null)
  const returnFocus = useRef<HTMLElement | null>(null)
  // Several dialogs can be on a screen at once (the list's and the entry's): each names its own title.
  const titleId = useId()

  useEffect(() => {
    const element = dialog.current
    if (element === null) return
    if (open && !element.open) {
      returnFocus.current = document.activeElement instanceof HTMLElement ? document.activeElement : null
      element.showModal()
      // The safe answer first: Enter on a dialog that just opened must not destroy anything.
      cancelButton.current?.focus()
    } else if (!open && element.open) {
      element.close()
    }
  }, [open])

  return (
    <dialog
      ref={dialog}
      class="dialog"
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault()
        onCancel()
      }}
      onKeyDown={(event) => {
        if (event.key === 'Tab') trapTab(event, event.currentTarget)
      }}
      onClose={() => {
        if (returnFocus.current?.isConnected === true) returnFocus.current.focus()
      }}
    >
      <h2 id={titleId}>{title}</h2>
      <div class="dialog-body">{children}</div>
      <div class="actions">
        <button type="button" class="button" ref={cancelButton} onClick={onCancel}>
          Cancel
        </button>
        <button type="button" class="button danger" onClick={onConfirm} disabled={busy}>
          {confirmLabel}
        </button>
      </div>
    </dialog>
  )
}

function trapTab(event: KeyboardEvent, dialog: HTMLElement): void {
  const focusable = [...dialog.querySelectorAll<HTMLElement>('button:not([disabled]), a[href], input:not([disabled]), select, textarea')].filter(
    (element) => !isSkippedRadio(element, dialog),
  )
  const first = focusable[0]
  const last = focusable[focusable.length - 1]
  if (first === undefined || last === undefined) return
  if (event.shiftKey && document.activeElement === first) {
    event.preventDefault()
    last.focus()
  } else if (!event.shiftKey && document.activeElement === last) {
    event.preventDefault()
    first.focus()
  }
}

/** Tab stops at one radio button of a group: the checked one, or the first when none is. */
function isSkippedRadio(element: HTMLElement, dialog: HTMLElement): boolean {
  if (!(element instanceof HTMLInputElement) || element.type !== 'radio' || element.name === '') return false
  const group = [...dialog.querySelectorAll<HTMLInputElement>('input[type="radio"]')].filter((radio) => radio.name === element.name)
  const stop = group.find((radio) => radio.checked) ?? group[0]
  return stop !== element
}
