/**
 * Where the example finds its database: MYSQL_URL when set; else root@127.0.0.1:3306/test when
 * something answers there; else a private MariaDB under example-app/.data/ when mariadbd is
 * installed; else a clear error.
 */
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import mysql from 'mysql2/promise'
import { redactUrl } from '../lib/options'
import { canStartEmbedded, startEmbeddedMariaDb } from './embedded-mariadb'

export const DEFAULT_URL = 'mysql://root@127.0.0.1:3306/test'

export interface Database {
  url: string
  /** Stops the embedded server, if this process started one. */
  stop(): Promise<void>
}

interface Log { info: (obj: object, msg: string) => void }

async function answers (url: string): Promise<boolean> {
  try {
    const c = await mysql.createConnection({ uri: url, connectTimeout: 2000 })
    await c.end()
    return true
  } catch {
    return false
  }
}

/** The repository root (the folder with package.json), from src/ or dist/ alike. */
function projectRoot (): string {
  let dir = __dirname
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir)
  return dir
}

export async function resolveDatabase (log: Log, url: string | undefined = process.env.MYSQL_URL): Promise<Database> {
  const env = url
  if (env !== undefined && env !== '') {
    log.info({ database: redactUrl(env) }, 'Using the database from MYSQL_URL')
    return { url: env, stop: async () => {} }
  }
  if (await answers(DEFAULT_URL)) {
    log.info({ database: DEFAULT_URL }, 'Using the local database')
    return { url: DEFAULT_URL, stop: async () => {} }
  }
  if (!canStartEmbedded()) {
    throw new Error(`No database answers at ${DEFAULT_URL} and mariadbd is not installed: ` +
      'start MariaDB/MySQL there, install mariadb-server, or set MYSQL_URL=mysql://user:password@host:port/database')
  }
  const dir = join(projectRoot(), 'example-app', '.data')
  log.info({ dataDir: dir }, `Nothing answers at ${DEFAULT_URL}: starting a private MariaDB (mariadbd) for this run`)
  const server = await startEmbeddedMariaDb(dir)
  log.info({ database: server.url, dataDir: server.dataDir, port: server.port }, 'Private MariaDB started; it stops when the app exits')
  return {
    url: server.url,
    stop: async () => {
      log.info({ port: server.port }, 'Stopping the private MariaDB')
      await server.stop()
    }
  }
}
