// ESM entry: the same CommonJS module, so `import` and `require` share one addon instance.
import provider from './index.js'

export const { SSOTokenProvider, fromSso, login, logout, ERROR_CODE } = provider
export default provider
