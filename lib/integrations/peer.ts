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
    if ((code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') && String((err as Error).message).includes(`'${name.split('/')[0]}`)) {
      throw new MissingPeerError(name, entry, err)
    }
    throw err
  }
}
