/**
 * Loads an optional peer dependency for an integration entry point, with an error that says
 * what to install instead of Node's bare "Cannot find module".
 */
import { MissingPeerError } from '../errors'

export function loadPeer<T> (name: string, entry: string): T {
  try {
    return require(name) as T
  } catch (err) {
    const code = (err as { code?: unknown }).code
    // Only a missing peer itself; an error inside the peer (or its own missing dependency) is its own.
    const pkg = packageOf(name)
    const message = String((err as Error).message)
    if ((code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') && (message.includes(`'${pkg}'`) || message.includes(`'${pkg}/`))) {
      throw new MissingPeerError(pkg, entry, err)
    }
    throw err
  }
}

/** `drizzle-orm/mysql2` → `drizzle-orm`; `@scope/name/sub` → `@scope/name`. */
export function packageOf (specifier: string): string {
  return specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/')
}
