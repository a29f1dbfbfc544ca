/** What an Apple configuration profile needs to add one CardDAV account. */
export interface CardDavAccount {
  /** The page's location: host, port and scheme of the service. */
  url: URL
  owner: string
  /** None when the service asks for none: the device then asks for one as it installs the profile. */
  password?: string | undefined
  description: string
}

export const MOBILECONFIG_TYPE = 'application/x-apple-aspen-config'

const escapeXml = (value: string): string =>
  value.replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[char] ?? char)

/** crypto.randomUUID exists in secure contexts only; a service on http://192.168.… is not one. */
function uuid(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID().toUpperCase()
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('').toUpperCase()
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

type PlistValue = string | number | boolean | PlistValue[] | { [key: string]: PlistValue }

function plist(value: PlistValue, indent: string): string {
  if (typeof value === 'string') return `<string>${escapeXml(value)}</string>`
  if (typeof value === 'number') return `<integer>${value}</integer>`
  if (typeof value === 'boolean') return value ? '<true/>' : '<false/>'
  const inner = `${indent}  `
  if (Array.isArray(value)) return `<array>\n${value.map((item) => `${inner}${plist(item, inner)}\n`).join('')}${indent}</array>`
  const members = Object.entries(value).map(([key, item]) => `${inner}<key>${escapeXml(key)}</key>\n${inner}${plist(item, inner)}\n`)
  return `<dict>\n${members.join('')}${indent}</dict>`
}

/**
 * An unsigned .mobileconfig (an XML property list) with one CardDAV account: opened on an iPhone
 * or a Mac, it offers to install the account with the key as its password. Built here, so the key
 * never travels to the server again.
 */
export function mobileconfig({ url, owner, password, description }: CardDavAccount): string {
  const https = url.protocol === 'https:'
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  const profileId = uuid()
  const accountId = uuid()
  const identifier = `${host.split('.').reverse().join('.')}.addrservice`
  const profile: PlistValue = {
    PayloadContent: [
      {
        PayloadType: 'com.apple.carddav.account',
        PayloadIdentifier: `${identifier}.carddav.${accountId}`,
        PayloadUUID: accountId,
        PayloadVersion: 1,
        PayloadDisplayName: `Contacts: ${description}`,
        CardDAVAccountDescription: description,
        CardDAVHostName: host,
        CardDAVPort: url.port === '' ? (https ? 443 : 80) : Number(url.port),
        CardDAVUseSSL: https,
        CardDAVPrincipalURL: `/dav/principals/${encodeURIComponent(owner)}/`,
        CardDAVUsername: owner,
        ...(password === undefined ? {} : { CardDAVPassword: password }),
      },
    ],
    PayloadType: 'Configuration',
    PayloadIdentifier: `${identifier}.${profileId}`,
    PayloadUUID: profileId,
    PayloadVersion: 1,
    PayloadDisplayName: `Address book (${description})`,
    PayloadDescription: `Adds the address book at ${url.host} to Contacts.`,
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    plist(profile, ''),
    '</plist>',
    '',
  ].join('\n')
}
