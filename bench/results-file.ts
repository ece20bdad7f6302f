/**
 * bench/RESULTS.md is one file of sections (`## N. Title`). A run with BENCH_ONLY replaces the
 * sections it measured and keeps the others, so one section can be refreshed without the
 * ten-minute full run; each section carries the date and command that measured it.
 */
import fs from 'node:fs'

export interface MeasuredSection {
  /** `N. Title`, without the `## `. */
  title: string
  body: string
}

function sectionNumber (title: string): number {
  const n = Number.parseInt(title, 10)
  return Number.isFinite(n) ? n : Number.MAX_SAFE_INTEGER
}

/** The sections of an existing RESULTS.md by title (the header before the first `## ` is dropped). */
export function parseSections (text: string): Map<string, string> {
  const sections = new Map<string, string>()
  const chunks = text.split(/^## /m).slice(1)
  for (const chunk of chunks) {
    const newline = chunk.indexOf('\n')
    const title = (newline === -1 ? chunk : chunk.slice(0, newline)).trim()
    const body = (newline === -1 ? '' : chunk.slice(newline + 1))
      .split('\n').filter((line) => !line.startsWith('_Total benchmark time')).join('\n').trim()
    sections.set(title, body)
  }
  return sections
}

/** The whole file: the new header, then every section (measured now or kept) in number order. */
export function mergeResults (existing: string | null, header: string, measured: MeasuredSection[]): string {
  const sections = existing === null ? new Map<string, string>() : parseSections(existing)
  for (const s of measured) {
    // A section renamed since the last run replaces its old title (same number).
    for (const old of [...sections.keys()]) {
      if (sectionNumber(old) === sectionNumber(s.title)) sections.delete(old)
    }
    sections.set(s.title, s.body.trim())
  }
  const ordered = [...sections].sort((a, b) => sectionNumber(a[0]) - sectionNumber(b[0]))
  return [header.trimEnd(), '', ...ordered.map(([title, body]) => `## ${title}\n\n${body}\n`)].join('\n')
}

export function readIfExists (file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return null
  }
}
