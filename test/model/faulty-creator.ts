/**
 * A pool creator over real mysql2 connections that can be told to make its next connects fail
 * (refused, as a down server) or hang (the connection opens but is held back until released, as
 * a slow server), and remembers the server thread of every connection it opened.
 */
import mysql from 'mysql2/promise'
import type { Fault } from './reference-model'

export class FaultyCreator {
  /** Server thread ids of every connection opened, in order. */
  readonly opened: number[] = []
  /** Faults for the next creator calls, in order. */
  readonly faults: Fault[] = []
  /** Releases of the connects held back, in call order. */
  readonly hung: Array<() => void> = []
  /** Creator calls not finished yet, hung ones included. */
  inProgress = 0

  constructor (private readonly url: string) {}

  readonly create = async (): Promise<mysql.Connection> => {
    const fault = this.faults.shift()
    if (fault === 'fail') throw Object.assign(new Error('connect ECONNREFUSED (injected by the model test)'), { code: 'ECONNREFUSED' })
    this.inProgress++
    try {
      // Registered before any await so that hung connects are released in call order.
      const gate = fault === 'hang' ? new Promise<void>((resolve) => this.hung.push(resolve)) : undefined
      const conn = await mysql.createConnection(this.url)
      this.opened.push(conn.threadId)
      if (gate !== undefined) await gate
      return conn
    } finally {
      this.inProgress--
    }
  }

  /** Lets the i-th held-back connect finish. */
  release (i: number): void {
    const [resolve] = this.hung.splice(i, 1)
    resolve()
  }
}
