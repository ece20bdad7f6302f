/**
 * Pools several runs of section 9 (the plain route against @fastify/mysql, paired rounds) into one
 * verdict per line: `npm run bench:pool -- bench/RESULTS.md /tmp/other-run.md`. Every round is a
 * paired comparison, so runs of the same code add their rounds: 20 rounds give the 6th-to-15th
 * interval (95.9 %) where 10 give the 2nd-to-9th. The runs must be of the same code and runtime;
 * the tool checks the runtime, the commit is the caller's to keep the same.
 * Reads the per-round tables the section prints (req/s of each side per round).
 */
import fs from 'node:fs'
import { fmtRatio } from './stats'
import { fmtInterval, summarisePair, verdict, type PairResult, type Reading } from './http/pair-summary'

/** The bar section 9 reads its verdict against. */
const GOAL = 1.0

export interface HeadlineRun {
  /** `Node v24.21.0`, from the section's heading. */
  runtime: string
  /** Line title → its rounds (ours, @fastify/mysql). */
  lines: Map<string, { ours: Reading[], peer: Reading[] }>
}

const number = (cell: string): number => Number(cell.replace(/[,×*\s]/g, ''))

/** The section 9 tables of one results file. */
export function parseHeadline (markdown: string): HeadlineRun {
  const start = markdown.indexOf('## 9. ')
  if (start === -1) throw new Error('no section 9 (the plain route against @fastify/mysql) in this file')
  const text = markdown.slice(start)
  const runtime = /— (Node v[\d.]+)/.exec(text)?.[1]
  if (runtime === undefined) throw new Error('section 9 names no Node version')
  const lines = new Map<string, { ours: Reading[], peer: Reading[] }>()
  let current: { ours: Reading[], peer: Reading[] } | undefined
  for (const line of text.split('\n')) {
    const title = /^\*\*(.+)\*\* \(ours, @fastify\/mysql\):$/.exec(line)
    if (title !== null) {
      current = { ours: [], peer: [] }
      lines.set(title[1], current)
      continue
    }
    const row = /^\| (\d+) \|(.*)\|$/.exec(line)
    if (row === null || current === undefined) continue
    const cells = row[2].split('|').map(number)
    current.ours.push({ reqPerSec: cells[0], cpuPerRequest: cells[3] })
    current.peer.push({ reqPerSec: cells[1], cpuPerRequest: cells[4] })
  }
  if (lines.size === 0) throw new Error('section 9 has no per-round tables')
  return { runtime, lines }
}

export interface PooledLine { title: string, runs: number, result: PairResult }

/** Every line's rounds from all runs together; the runs must share the runtime. */
export function poolRuns (runs: HeadlineRun[]): PooledLine[] {
  const runtimes = new Set(runs.map((r) => r.runtime))
  if (runtimes.size !== 1) throw new Error(`runs of different runtimes can't be pooled: ${[...runtimes].join(', ')}`)
  const titles = [...new Set(runs.flatMap((r) => [...r.lines.keys()]))]
  return titles.map((title) => {
    const parts = runs.flatMap((r) => r.lines.get(title) ?? [])
    return {
      title,
      runs: parts.length,
      result: summarisePair(parts.flatMap((p) => p.ours), parts.flatMap((p) => p.peer))
    }
  })
}

function main (files: string[]): void {
  if (files.length === 0) throw new Error('usage: npm run bench:pool -- RESULTS-a.md RESULTS-b.md …')
  const runs = files.map((f) => parseHeadline(fs.readFileSync(f, 'utf8')))
  console.log(`${runs[0].runtime}, ${files.length} run(s): ${files.join(', ')}`)
  for (const { title, runs: n, result } of poolRuns(runs)) {
    console.log(`- ${title}: ${fmtRatio(result.reqRatio)}, interval ${fmtInterval(result.reqInterval)}, ${result.a.length} rounds from ${n} run(s), ours ahead in ${result.aheadRounds}: **${verdict(result.reqInterval, GOAL)}**`)
  }
}

if (require.main === module) main(process.argv.slice(2))
