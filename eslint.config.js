'use strict'

module.exports = [
  ...require('neostandard')({
    ts: true,
    ignores: ['dist/**', 'coverage/**', '.tap/**', 'node_modules/**', '.tmp/**']
  }),
  {
    // `void promise` marks a deliberate fire-and-forget (its errors are handled inside).
    rules: { 'no-void': ['error', { allowAsStatement: true }] }
  }
]
