import neostandard from 'neostandard'
import globals from 'globals'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'node_modules/**', '**/node_modules/**', '.tap/**', '.tmp/**', 'collector/dist/**', 'benchmarks/peers/**'] }),
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off'
    }
  },
  {
    // Code that runs in the browser (the collector's dashboard).
    files: ['collector/**/assets/**/*.js', 'collector/**/public/**/*.js'],
    languageOptions: { globals: { ...globals.browser } }
  }
]
