import { createHash } from 'node:crypto'
import sharp from 'sharp'
import { InvalidPhotoError, PhotoTooLargeError } from '../domain/errors.js'

/**
 * Photos as the book keeps them: any JPEG, PNG or WebP a person picks, decoded (never trusted by
 * its header), turned upright by its EXIF orientation, stripped of its metadata (location, camera)
 * and made a JPEG of at most 720×720, with a 96×96 thumbnail cut from its middle. A 12 MB phone
 * picture comes out near 100 KB. sharp (libvips) does the work off the event loop, in its own
 * threads; it ships prebuilt for each platform as npm packages.
 */

/** The longest side of a stored photo, in pixels. */
export const PHOTO_SIZE = 720
/** The side of a thumbnail, in pixels. */
export const THUMBNAIL_SIZE = 96
/**
 * The most pixels a photo may have: a 48-megapixel phone camera's, and some room. An image with
 * more (a few kilobytes of PNG can claim 100,000×100,000) is refused before it is decoded.
 */
export const MAX_PIXELS = 64_000_000
const FORMATS: ReadonlySet<string> = new Set(['jpeg', 'png', 'webp'])
const JPEG = 'image/jpeg'

export interface NormalizedPhoto {
  readonly etag: string
  readonly contentType: string
  readonly image: Uint8Array
  readonly thumbnail: Uint8Array
}

/**
 * The photo as the book keeps it. Rejects with InvalidPhotoError when the bytes are not a whole
 * JPEG, PNG or WebP image, and PhotoTooLargeError when it has more pixels than MAX_PIXELS.
 */
export async function normalizePhoto(bytes: Uint8Array): Promise<NormalizedPhoto> {
  const metadata = await sharp(bytes, { limitInputPixels: false }).metadata().catch(() => {
    throw new InvalidPhotoError('the body is not an image this service reads (JPEG, PNG or WebP)')
  })
  if (!FORMATS.has(metadata.format)) throw new InvalidPhotoError(`the body is ${metadata.format.toUpperCase()}, not JPEG, PNG or WebP`)
  const { width, height } = metadata
  if (width * height > MAX_PIXELS) throw new PhotoTooLargeError(width, height, MAX_PIXELS)
  const source = () => sharp(bytes, { limitInputPixels: MAX_PIXELS, failOn: 'error' }).rotate()
  // A photo that is already what the book keeps (an export imported again) is kept byte for byte:
  // its tag stays the same, and it is not made worse by a second compression. Its thumbnail still
  // decodes it whole.
  const kept =
    metadata.format === 'jpeg' && width <= PHOTO_SIZE && height <= PHOTO_SIZE && (metadata.orientation ?? 1) === 1 &&
    metadata.exif === undefined && metadata.icc === undefined && metadata.xmp === undefined && metadata.iptc === undefined
  try {
    const [image, thumbnail] = await Promise.all([
      kept
        ? Promise.resolve(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
        : source().resize(PHOTO_SIZE, PHOTO_SIZE, { fit: 'inside', withoutEnlargement: true }).flatten({ background: '#ffffff' }).jpeg({ quality: 82, mozjpeg: true }).toBuffer(),
      source().resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'cover', position: 'attention' }).flatten({ background: '#ffffff' }).jpeg({ quality: 80 }).toBuffer(),
    ])
    return { etag: createHash('sha256').update(image).digest('base64url').slice(0, 22), contentType: JPEG, image, thumbnail }
  } catch {
    throw new InvalidPhotoError('the image is damaged or cut short: it does not decode')
  }
}
