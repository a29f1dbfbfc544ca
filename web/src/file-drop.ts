import { useState } from 'preact/hooks'

/** What a drop zone needs: whether a file is over it, and the drag handlers that hand the dropped file on. */
export function useFileDrop(onFile: (file: File) => void): {
  dragging: boolean
  handlers: {
    onDragOver: (event: DragEvent) => void
    onDragLeave: () => void
    onDrop: (event: DragEvent) => void
  }
} {
  const [dragging, setDragging] = useState(false)
  return {
    dragging,
    handlers: {
      onDragOver: (event) => {
        event.preventDefault()
        setDragging(true)
      },
      onDragLeave: () => {
        setDragging(false)
      },
      onDrop: (event) => {
        event.preventDefault()
        setDragging(false)
        const file = event.dataTransfer?.files[0]
        if (file !== undefined) onFile(file)
      },
    },
  }
}
