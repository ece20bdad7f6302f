/**
 * TLS parameters in a `mysql://…?ssl=…` URL. mysql2 reads every query parameter as an option
 * (JSON-parsed when it parses), so `?ssl=true` reaches it as `true` and fails at connect with
 * "SSL profile must be an object", and the `sslmode=…`/`ssl-ca=…` spellings of other clients are
 * ignored with a console line: the connection then silently runs in clear text. Here the common
 * forms are supported and the others refused at register time with a message saying what to write.
 */
import type { ConnectionOptions } from 'mysql2'
import { InvalidOptionError } from './errors'

/** Spellings from libmysqlclient, PostgreSQL URLs, Prisma and JDBC that mysql2 would drop. */
const FOREIGN_TLS_PARAMS = ['sslmode', 'ssl-mode', 'ssl_mode', 'sslaccept', 'sslca', 'ssl-ca', 'ssl_ca', 'sslcert', 'ssl-cert',
  'ssl_cert', 'sslkey', 'ssl-key', 'ssl_key', 'sslrootcert', 'tls', 'usessl', 'requiressl', 'verifyservercertificate']

const HOW = 'write ?ssl=true (TLS, certificate verified), ?ssl={"rejectUnauthorized":false} (JSON: any mysql2 ssl options), ?ssl=false, or pass the ssl option next to the URL: { uri, ssl: { ca } }'

/**
 * The URL for mysql2 and the `ssl` option it asks for: the `ssl` parameter is taken out of the URL
 * (mysql2 would misread `true`/`off`) and returned as an option. Throws for what can't be honoured.
 */
export function withUrlTls (uri: string): { uri: string, ssl?: ConnectionOptions['ssl'] } {
  const url = new URL(uri)
  const tls = urlTlsOptions(url)
  if (tls === undefined) return { uri }
  url.searchParams.delete('ssl')
  return tls.ssl === undefined ? { uri: url.toString() } : { uri: url.toString(), ssl: tls.ssl }
}

function urlTlsOptions (url: URL): { ssl: ConnectionOptions['ssl'] } | undefined {
  for (const key of url.searchParams.keys()) {
    if (FOREIGN_TLS_PARAMS.includes(key.toLowerCase())) {
      throw new InvalidOptionError('connection', `Invalid option connection: the URL parameter ${key} is not understood by mysql2 (the connection would silently run without TLS); ${HOW}`)
    }
  }
  const value = url.searchParams.get('ssl')
  if (value === null) return undefined
  const v = value.trim()
  if (/^(true|1|required?|on)$/i.test(v)) return { ssl: {} }
  if (/^(false|0|off|disabled?)$/i.test(v)) return { ssl: undefined }
  if (v.startsWith('{')) {
    try {
      return { ssl: JSON.parse(v) as object } // starts with '{': an object when it parses
    } catch {
      throw new InvalidOptionError('connection', `Invalid option connection: the URL parameter ssl is not valid JSON; ${HOW}`)
    }
  }
  if (v === 'Amazon RDS') return { ssl: v } // mysql2's (deprecated) named profile
  throw new InvalidOptionError('connection', `Invalid option connection: unsupported URL parameter ssl=${JSON.stringify(value.slice(0, 40))}; ${HOW}`)
}
