/**
 * One adapter per pool under test. Each holds REAL mysql2 connections (so the pools see real
 * objects) and runs `n` acquire+release pairs in that library's own idiom, with no query, so only
 * the pool's bookkeeping is measured. Every pool is left at its defaults apart from its size.
 */
import genericPool from 'generic-pool'
import mysqlCallback from 'mysql2'
import mysql from 'mysql2/promise'
import { Pool as TarnPool } from 'tarn'
import { QueuePool, type PoolLogger } from '../../lib'

export interface PoolAdapter {
  readonly name: string
  /** Runs `n` acquire+release pairs one after another. */
  cycle: (n: number) => Promise<void>
  close: () => Promise<void>
}

/** Counts what the pool logs instead of printing it (the saturation warning would flood stdout). */
export class CountingLogger implements PoolLogger {
  warnings = 0
  errors = 0
  debug (): void {}
  info (): void {}
  warn (): void { this.warnings++ }
  error (): void { this.errors++ }
}

async function ours (url: string, size: number, logger: PoolLogger): Promise<PoolAdapter> {
  // resetOnReturn stays at its default ('rollback'); with no statement run nothing is reset.
  const pool = new QueuePool(() => mysql.createConnection(url), { poolSize: size, maxOverflow: 0, logger })
  return {
    name: 'fastify-db-session QueuePool',
    async cycle (n) {
      for (let i = 0; i < n; i++) {
        const conn = await pool.connect()
        await conn.close()
      }
    },
    close: () => pool.close()
  }
}

async function mysql2Callback (url: string, size: number): Promise<PoolAdapter> {
  const pool = mysqlCallback.createPool({ uri: url, connectionLimit: size, maxIdle: size })
  return {
    name: 'mysql2 pool (callback)',
    cycle (n) {
      return new Promise<void>((resolve, reject) => {
        let left = n
        // getConnection calls back on a later tick, so this recursion never grows the stack.
        const next = (): void => {
          if (left-- === 0) {
            resolve()
            return
          }
          pool.getConnection((err, conn) => {
            if (err !== null) {
              reject(err)
              return
            }
            conn.release()
            next()
          })
        }
        next()
      })
    },
    close: () => new Promise<void>((resolve) => pool.end(() => resolve()))
  }
}

async function mysql2Promise (url: string, size: number): Promise<PoolAdapter> {
  const pool = mysql.createPool({ uri: url, connectionLimit: size, maxIdle: size })
  return {
    name: 'mysql2/promise pool',
    async cycle (n) {
      for (let i = 0; i < n; i++) {
        const conn = await pool.getConnection()
        conn.release()
      }
    },
    close: () => pool.end()
  }
}

async function tarn (url: string, size: number): Promise<PoolAdapter> {
  const pool = new TarnPool<mysql.Connection>({
    create: () => mysql.createConnection(url),
    destroy: (conn) => conn.end(),
    min: size,
    max: size
  })
  return {
    name: 'tarn',
    async cycle (n) {
      for (let i = 0; i < n; i++) {
        const conn = await pool.acquire().promise
        pool.release(conn)
      }
    },
    close: async () => { await pool.destroy() }
  }
}

async function genericPoolAdapter (url: string, size: number): Promise<PoolAdapter> {
  const pool = genericPool.createPool<mysql.Connection>({
    create: () => mysql.createConnection(url),
    destroy: (conn) => conn.end()
  }, { min: size, max: size })
  return {
    name: 'generic-pool',
    async cycle (n) {
      for (let i = 0; i < n; i++) {
        const conn = await pool.acquire()
        await pool.release(conn)
      }
    },
    close: async () => {
      await pool.drain()
      await pool.clear()
    }
  }
}

/** All adapters, ours first, each already holding `size` open connections. */
export async function makeAdapters (url: string, size: number, logger: PoolLogger): Promise<PoolAdapter[]> {
  const adapters = [
    await ours(url, size, logger),
    await mysql2Callback(url, size),
    await mysql2Promise(url, size),
    await tarn(url, size),
    await genericPoolAdapter(url, size)
  ]
  // Open every connection up front: `size` concurrent pairs force each pool to fill itself.
  for (const a of adapters) await Promise.all(Array.from({ length: size }, () => a.cycle(1)))
  return adapters
}
