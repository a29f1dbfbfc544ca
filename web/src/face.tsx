import { useEffect, useRef, useState } from 'preact/hooks'
import { photoObjectUrl, type EntryRecord } from './api.js'
import { initialsOf } from './format.js'

/**
 * An entry's face: its photo (the 96×96 thumbnail in lists, the photo itself when large), fetched
 * once it scrolls into view, or its initials when it has none or until the photo has come.
 */
export function Face({ entry, large = false }: { entry: EntryRecord; large?: boolean }) {
  const [src, setSrc] = useState<string | null>(null)
  const face = useRef<HTMLSpanElement>(null)
  const url = entry.photo?.url

  useEffect(() => {
    setSrc(null)
    if (url === undefined) return
    let live = true
    const load = () => {
      photoObjectUrl(url, large ? 'photo' : 'thumbnail').then(
        (objectUrl) => {
          if (live) setSrc(objectUrl)
        },
        () => {
          // The initials stay: a face is not worth an error message.
        },
      )
    }
    const element = face.current
    if (element === null || typeof IntersectionObserver === 'undefined') {
      load()
      return () => {
        live = false
      }
    }
    const observer = new IntersectionObserver((seen) => {
      if (seen.some((item) => item.isIntersecting)) {
        observer.disconnect()
        load()
      }
    })
    observer.observe(element)
    return () => {
      live = false
      observer.disconnect()
    }
  }, [url, large])

  return (
    <span ref={face} class={large ? 'avatar large' : 'avatar'} aria-hidden="true">
      {src === null ? initialsOf(entry.full_name) : <img src={src} alt="" width={large ? 128 : 40} height={large ? 128 : 40} />}
    </span>
  )
}
