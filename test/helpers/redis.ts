import { Redis } from 'ioredis'

/** The Redis the rate-limit tests share counters in; each test uses a key prefix of its own. */
export const REDIS_URL = process.env.ADDRSERVICE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

async function reachable(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null })
  redis.on('error', () => undefined)
  try {
    await redis.connect()
    await redis.ping()
    return true
  } catch {
    return false
  } finally {
    redis.disconnect()
  }
}

/** Why tests that need Redis are skipped, or false when they run. */
export const REDIS_SKIP: string | false = (await reachable(REDIS_URL))
  ? false
  : `Redis tests skipped: nothing answers at ${REDIS_URL} (set ADDRSERVICE_TEST_REDIS_URL, or start redis-server)`
