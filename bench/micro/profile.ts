/**
 * Profiling helper for our pool alone (not part of `npm run bench`):
 *   node --cpu-prof --cpu-prof-dir=.tmp/prof dist/bench/micro/profile.js contended 2000000
 *   node dist/bench/micro/profile-summary.js .tmp/prof/<file>.cpuprofile
 * Modes: idle (1 caller) or contended (8 acquirers over 2 connections).
 */
import mysql from 'mysql2/promise'
import { QueuePool } from '../../lib'
import { CountingLogger } from './adapters'

async function main (): Promise<void> {
  const mode = process.argv[2] ?? 'idle'
  const pairs = Number(process.argv[3] ?? 2_000_000)
  const url = process.env.BENCH_DB_URL ?? 'mysql://root@127.0.0.1:3306/test'
  const pool = new QueuePool(() => mysql.createConnection(url), { poolSize: 2, maxOverflow: 0, logger: new CountingLogger() })
  const cycle = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      const conn = await pool.connect()
      await conn.close()
    }
  }
  await Promise.all([cycle(1), cycle(1)])
  const workers = mode === 'contended' ? 8 : 1
  const t0 = process.hrtime.bigint()
  await Promise.all(Array.from({ length: workers }, () => cycle(Math.ceil(pairs / workers))))
  const ns = Number(process.hrtime.bigint() - t0)
  console.log(`${mode}: ${(ns / pairs).toFixed(0)} ns/pair`)
  await pool.close()
}

void main()
