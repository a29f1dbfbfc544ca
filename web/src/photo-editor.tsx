import { useEffect, useRef, useState } from 'preact/hooks'
import { ApiError, deletePhoto, putPhoto, type EntryRecord } from './api.js'
import { messageOf } from './messages.js'
import { useFileDrop } from './file-drop.js'

const PICTURE_TYPES = ['image/jpeg', 'image/png', 'image/webp']
/** The service takes at most 20 MiB: a bigger file is refused here, before it is sent. */
const MOST_BYTES = 20 * 1024 * 1024

interface Picked {
  readonly file: File
  readonly preview: string
}

/**
 * The entry's photo: pick a picture (or drop one), see it before saving, save it, or remove the
 * photo the entry has. The service turns it upright, strips what the camera wrote into it and
 * shrinks it.
 */
export function PhotoEditor({ id, entry, changed }: { id: string; entry: EntryRecord; changed: (message: string) => void }) {
  const [picked, setPicked] = useState<Picked | null>(null)
  const [busy, setBusy] = useState(false)
  const [problem, setProblem] = useState('')
  const { dragging, handlers: dropHandlers } = useFileDrop((file) => {
    pick(file)
  })
  const input = useRef<HTMLInputElement>(null)

  useEffect(
    () => () => {
      if (picked) URL.revokeObjectURL(picked.preview)
    },
    [picked],
  )

  const pick = (file: File | undefined) => {
    setProblem('')
    if (file === undefined) return
    if (!PICTURE_TYPES.includes(file.type)) {
      setProblem(`${file.name} is not a JPEG, PNG or WebP picture.`)
      return
    }
    if (file.size > MOST_BYTES) {
      setProblem(`${file.name} is larger than 20 MB.`)
      return
    }
    setPicked({ file, preview: URL.createObjectURL(file) })
  }

  const save = async () => {
    if (picked === null) return
    setBusy(true)
    try {
      await putPhoto(id, picked.file)
      setPicked(null)
      changed(`Saved the photo of ${entry.full_name}.`)
    } catch (error) {
      setProblem(error instanceof ApiError && error.status !== 0 ? `The photo was not saved: ${messageOf(error)}` : messageOf(error))
    } finally {
      setBusy(false)
    }
  }

  const remove = async () => {
    setBusy(true)
    setProblem('')
    try {
      await deletePhoto(id)
      changed(`Removed the photo of ${entry.full_name}.`)
    } catch (error) {
      setProblem(messageOf(error))
    } finally {
      setBusy(false)
    }
  }

  return (
    <section class="photo-editor" aria-labelledby="photo-title">
      <h2 id="photo-title">Photo</h2>
      <div
        class={dragging ? 'drop-zone photo-drop dragging' : 'drop-zone photo-drop'}
        {...dropHandlers}
      >
        {picked === null ? (
          <p>Drop a picture here, or choose one.</p>
        ) : (
          <img class="photo-preview" src={picked.preview} alt={`The picture you picked for ${entry.full_name}`} width={160} height={160} />
        )}
        <label class="button" for="photo-file">
          Choose a picture
        </label>
        <input
          id="photo-file"
          ref={input}
          class="visually-hidden"
          type="file"
          accept={PICTURE_TYPES.join(',')}
          onChange={(event) => {
            pick(event.currentTarget.files?.[0])
            event.currentTarget.value = ''
          }}
        />
      </div>
      <div class="actions">
        {picked !== null && (
          <>
            <button type="button" class="button primary" disabled={busy} onClick={() => void save()}>
              {busy ? 'Saving…' : 'Save photo'}
            </button>
            <button type="button" class="button quiet" disabled={busy} onClick={() => {
              setPicked(null)
            }}>
              Cancel
            </button>
          </>
        )}
        {picked === null && entry.photo !== undefined && (
          <button type="button" class="button danger" disabled={busy} onClick={() => void remove()}>
            Remove photo
          </button>
        )}
      </div>
      {problem !== '' && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
    </section>
  )
}
