/**
 * The service's settings, from the environment, validated once at start (env-schema): a bad value
 * stops the process with a message naming the variable, instead of surfacing later as odd behaviour.
 * Empty variables count as unset.
 */
import envSchema from 'env-schema'
import { Type, type Static } from '@fastify/type-provider-typebox'
import type { DbSessionPluginOptions } from '../lib'

const ms = (description: string, minimum = 0): ReturnType<typeof Type.Integer> => Type.Integer({ minimum, description })

export const ConfigSchema = Type.Object({
  MYSQL_URL: Type.Optional(Type.String({ pattern: '^(mysql|mariadb)://', description: 'mysql://user:password@host:port/database' })),
  MYSQL_REPLICA_URL: Type.Optional(Type.String({ pattern: '^(mysql|mariadb)://', description: 'a read replica of MYSQL_URL (GET /catalog reads there, with causal reads)' })),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  POOL_SIZE: Type.Optional(Type.Integer({ minimum: 0 })),
  MAX_OVERFLOW: Type.Optional(Type.Integer({ minimum: -1 })),
  POOL_TIMEOUT: Type.Optional(ms('ms a checkout waits at the limit')),
  POOL_RECYCLE: Type.Optional(ms('ms, -1 = off', -1)),
  POOL_PRE_PING: Type.Optional(Type.Boolean()),
  LEAK_DETECTION_THRESHOLD: Type.Optional(ms('ms, 0 = off')),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' })
})

export type Config = Static<typeof ConfigSchema>

/** Reads and validates the settings; throws naming the first bad variable. */
export function loadConfig (env: NodeJS.ProcessEnv = process.env): Config {
  const data = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''))
  return envSchema<Config>({ schema: ConfigSchema, data, env: false, dotenv: false })
}

/** The pool options the settings carry (connection aside). */
export function poolOptions (config: Config): Omit<DbSessionPluginOptions, 'connection'> {
  return {
    poolSize: config.POOL_SIZE,
    maxOverflow: config.MAX_OVERFLOW,
    poolTimeout: config.POOL_TIMEOUT,
    poolRecycle: config.POOL_RECYCLE,
    poolPrePing: config.POOL_PRE_PING,
    leakDetectionThreshold: config.LEAK_DETECTION_THRESHOLD,
    ...(config.MYSQL_REPLICA_URL === undefined ? {} : { replicas: [config.MYSQL_REPLICA_URL], causalReads: true })
  }
}
