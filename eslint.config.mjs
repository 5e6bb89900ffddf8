import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'node_modules/**', '**/node_modules/**', '.tap/**', 'collector/public/vendor/**', 'benchmarks/peers/**'] }),
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off'
    }
  }
]
