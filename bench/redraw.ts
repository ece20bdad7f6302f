/**
 * `npm run bench:charts`: redraws docs/charts/*.svg from the figures the last benchmark runs kept
 * there (docs/charts/*.json), without measuring anything. BENCH_CHARTS names another folder.
 */
import path from 'node:path'
import { redrawAll } from './section-charts'

const dir = process.env.BENCH_CHARTS ?? path.resolve(__dirname, '..', '..', 'docs', 'charts')
for (const file of redrawAll(dir)) process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`)
