/**
 * The newest GTID this process committed on the primary, per replication domain (MariaDB GTIDs are
 * `domain-server-sequence`). A replica that has applied this position has every write this
 * process made, so `MASTER_GTID_WAIT(position)` there gives read-your-writes.
 */
import type { QueryResult } from 'mysql2'

interface Gtid { server: number, seq: number }

/** Appended to the session's tracked variables so every commit's OK packet carries `last_gtid`: no extra round trip. */
export const TRACK_LAST_GTID_SQL =
  "SET SESSION session_track_system_variables = CONCAT_WS(',', NULLIF(@@session.session_track_system_variables, ''), 'last_gtid')"

export class GtidTracker {
  readonly #domains = new Map<number, Gtid>()
  #position: string | undefined = undefined

  /** Notes a GTID list like `0-1-42` or `0-1-42,1-2-7`; older sequence numbers of a domain are ignored. */
  note (gtids: string): void {
    let changed = false
    for (const part of gtids.split(',')) {
      const m = /^\s*(\d+)-(\d+)-(\d+)\s*$/.exec(part)
      if (m === null) continue
      const domain = Number(m[1])
      const seq = Number(m[3])
      const known = this.#domains.get(domain)
      if (known !== undefined && known.seq >= seq) continue
      this.#domains.set(domain, { server: Number(m[2]), seq })
      changed = true
    }
    if (changed) this.#position = [...this.#domains].map(([d, g]) => `${d}-${g.server}-${g.seq}`).join(',')
  }

  /** Takes `last_gtid` from a statement's OK packet, when session tracking reported one. */
  noteResult (result: QueryResult): void {
    const gtid = (result as { stateChanges?: { systemVariables?: Record<string, string | undefined> } }).stateChanges?.systemVariables?.last_gtid
    if (gtid !== undefined && gtid !== '') this.note(gtid)
  }

  /** The position to wait for on a replica; undefined until this process has committed a write. */
  get position (): string | undefined {
    return this.#position
  }
}
