import { useEffect, useState } from 'preact/hooks'
import { fetchLabels } from './api.js'

/**
 * An entry's labels in the form: each a chip with a button that takes it off, and a field that
 * adds one (Enter, a comma, or Add), suggesting the book's labels. A label the entry has in any
 * case is not added twice, as the service would keep it once.
 */
export function LabelsField({ labels, onLabels, errors }: { labels: string[]; onLabels: (labels: string[]) => void; errors: ReadonlyMap<string, string> }) {
  const [text, setText] = useState('')
  const [known, setKnown] = useState<string[]>([])

  useEffect(() => {
    fetchLabels().then(
      (found) => {
        setKnown(found.map(({ name }) => name))
      },
      () => {
        // No suggestions: labels can still be typed.
      },
    )
  }, [])

  const add = (typed: string) => {
    const fresh = typed
      .split(',')
      .map((label) => label.trim())
      .filter((label) => label !== '')
    const next = [...labels]
    for (const label of fresh) if (!next.some((held) => held.toLowerCase() === label.toLowerCase())) next.push(label)
    if (next.length !== labels.length) onLabels(next)
    setText('')
  }
  const problems = [...errors].filter(([path]) => path === '/labels' || path.startsWith('/labels/'))

  return (
    <fieldset class="labels-field">
      <legend>Labels</legend>
      {labels.length > 0 && (
        <ul class="chips" aria-label="Labels of this entry">
          {labels.map((label) => (
            <li key={label} class="chip">
              {label}
              <button type="button" class="chip-remove" aria-label={`Remove label ${label}`} onClick={() => {
                onLabels(labels.filter((held) => held !== label))
              }}>
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      <div class="add-label">
        <label for="new-label">Add a label</label>
        <input
          id="new-label"
          list="known-labels"
          autoComplete="off"
          maxLength={100}
          value={text}
          placeholder="Family, Work…"
          aria-describedby={problems.length > 0 ? 'labels-error' : undefined}
          onInput={(event) => {
            const value = event.currentTarget.value
            if (value.includes(',')) add(value)
            else setText(value)
          }}
          onKeyDown={(event) => {
            if (event.key === 'Enter') {
              // Enter adds the label; it does not submit the whole form.
              event.preventDefault()
              add(text)
            }
          }}
        />
        <datalist id="known-labels">
          {known
            .filter((name) => !labels.some((held) => held.toLowerCase() === name.toLowerCase()))
            .map((name) => (
              <option key={name} value={name} />
            ))}
        </datalist>
        <button type="button" class="button" disabled={text.trim() === ''} onClick={() => {
          add(text)
        }}>
          Add
        </button>
      </div>
      {problems.length > 0 && (
        <p class="field-error" id="labels-error">
          {problems.map(([path, message]) => `${path === '/labels' ? 'Labels' : `Label ${String(Number(path.split('/')[2]) + 1)}`} ${message}`).join('; ')}
        </p>
      )}
    </fieldset>
  )
}
