import { describe } from 'node:test'
import { PostgresStore } from '../../src/storage/postgres/postgres-store.js'
import { POSTGRES_SKIP, useTestPostgres } from '../helpers/postgres.js'
import { describeStoreContract } from './store-contract.js'

if (POSTGRES_SKIP) {
  describe('PostgresStore (address book store contract)', { skip: POSTGRES_SKIP }, () => undefined)
} else {
  const postgres = useTestPostgres()
  describeStoreContract('PostgresStore', async (t, clock) => {
    const store = new PostgresStore(await postgres.freshSchemaUrl(t), clock ? { clock } : {})
    t.after(() => store.close())
    return store
  })
}
