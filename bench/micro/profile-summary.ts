/**
 * Summarises a .cpuprofile: self time per function and per source line, top 25, so hot spots
 * in lib/ can be named precisely. Usage: node dist/bench/micro/profile-summary.js file.cpuprofile
 */
import fs from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  hitCount?: number
  positionTicks?: { line: number, ticks: number }[]
}

interface Profile { nodes: ProfileNode[] }

function main (): void {
  const file = process.argv[2]
  if (file === undefined) throw new Error('usage: profile-summary <file.cpuprofile>')
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile
  const byFn = new Map<string, number>()
  const byLine = new Map<string, number>()
  let total = 0
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0
    total += hits
    const where = n.callFrame.url.replace(/^file:\/\//, '').replace(/^.*\/(dist|node_modules)\//, '$1/')
    const fn = `${n.callFrame.functionName || '(anonymous)'} ${where}:${n.callFrame.lineNumber + 1}`
    byFn.set(fn, (byFn.get(fn) ?? 0) + hits)
    for (const t of n.positionTicks ?? []) {
      const key = `${where}:${t.line} (${n.callFrame.functionName || 'anonymous'})`
      byLine.set(key, (byLine.get(key) ?? 0) + t.ticks)
    }
  }
  const top = (m: Map<string, number>): string => [...m].sort((a, b) => b[1] - a[1]).slice(0, 25)
    .map(([k, v]) => `${(100 * v / total).toFixed(1).padStart(5)}%  ${k}`).join('\n')
  console.log(`samples: ${total}\n\nself time by function:\n${top(byFn)}\n\nself time by line (compiled JS lines):\n${top(byLine)}`)
}

main()
