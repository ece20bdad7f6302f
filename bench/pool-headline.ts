/**
 * Pools several runs of section 9 (the plain route against @fastify/mysql, paired rounds) into one
 * verdict per line: `npm run bench:pool -- bench/RESULTS.md /tmp/other-run.md`. Every round is a
 * paired comparison, so runs of the same code add their rounds: 20 rounds give the 6th-to-15th
 * interval (95.9 %) where 10 give the 2nd-to-9th. The runs must be of the same code and runtime;
 * the tool checks the runtime and that no run is given twice, the commit is the caller's to keep.
 * It reads the per-round tables the section prints, so it works from req/s rounded to whole
 * requests (a ratio moves by well under 0.001 for it).
 */
import fs from 'node:fs'
import { fmtRatio } from './stats'
import { fmtInterval, PLAIN_ROUTE_GOAL, summarisePair, verdict, type PairResult, type Reading } from './http/pair-summary'
import { parseSections } from './results-file'

/** One line's rounds, in round order: ours and @fastify/mysql's readings of the same rounds. */
export interface LineRounds { ours: Reading[], peer: Reading[] }

export interface HeadlineRun {
  /** The section's `_Measured …_` stamp: two runs with the same one are the same run. */
  measured: string
  /** `Node v24.21.0`, from the section's heading. */
  runtime: string
  /** Line title → its rounds (ours, @fastify/mysql). */
  lines: Map<string, LineRounds>
}

function parseCell (cell: string): number {
  const value = Number(cell.replace(/[,×*\s]/g, ''))
  if (cell.trim() === '' || !Number.isFinite(value)) throw new Error(`section 9: not a number in a per-round table: '${cell.trim()}'`)
  return value
}

/** The section 9 tables of one results file (section 9 alone: the next section ends it). */
export function parseHeadline (markdown: string): HeadlineRun {
  const body = [...parseSections(markdown.replace(/\r\n/g, '\n'))].find(([title]) => /^9\. /.test(title))?.[1]
  if (body === undefined) throw new Error('no section 9 (the plain route against @fastify/mysql) in this file')
  const runtime = /— (Node v[\d.]+)/.exec(body)?.[1]
  if (runtime === undefined) throw new Error('section 9 names no Node version')
  const measured = /^_Measured ([^_]*?) with /m.exec(body)?.[1] ?? ''
  const lines = new Map<string, LineRounds>()
  let current: LineRounds | undefined
  for (const line of body.split('\n')) {
    const title = /^\*\*(.+)\*\* \(ours, @fastify\/mysql\):$/.exec(line)
    if (title !== null) {
      current = { ours: [], peer: [] }
      lines.set(title[1], current)
      continue
    }
    const row = /^\| (\d+) \|(.*)\|$/.exec(line)
    if (row === null || current === undefined) continue
    const cells = row[2].split('|').map(parseCell)
    current.ours.push({ reqPerSec: cells[0], cpuPerRequest: cells[3] })
    current.peer.push({ reqPerSec: cells[1], cpuPerRequest: cells[4] })
  }
  if (lines.size === 0) throw new Error('section 9 has no per-round tables')
  return { measured, runtime, lines }
}

export interface PooledLine { title: string, runs: number, result: PairResult }

/** Every line's rounds from all runs together; the runs must share the runtime and be distinct. */
export function poolRuns (runs: HeadlineRun[]): PooledLine[] {
  const runtimes = new Set(runs.map((r) => r.runtime))
  if (runtimes.size !== 1) throw new Error(`runs of different runtimes can't be pooled: ${[...runtimes].join(', ')}`)
  const stamps = runs.map((r) => r.measured).filter((m) => m !== '')
  if (new Set(stamps).size !== stamps.length) throw new Error('the same run is given twice (two files with the same _Measured_ stamp)')
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
    console.log(`- ${title}: ${fmtRatio(result.reqRatio)}, interval ${fmtInterval(result.reqInterval, PLAIN_ROUTE_GOAL)}, ${result.a.length} rounds from ${n} run(s), ours ahead in ${result.aheadRounds}: **${verdict(result.reqInterval, PLAIN_ROUTE_GOAL)}**`)
  }
}

if (require.main === module) main(process.argv.slice(2))
