/**
 * mysql2's built-in fake MySQL server, for driver calls that must hang or fail on cue
 * (no real database can be told to ignore a COM_PING). Close it in t.teardown.
 */
import mysql from 'mysql2'
import { createServer as createTcpServer, type Server, type Socket } from 'node:net'

export interface FakeServerBehaviour {
  /** Answer COM_PING (default true); false = never answer. */
  ping?: boolean
  /** Answer COM_RESET_CONNECTION (default true); false = never answer. */
  reset?: boolean
  /** Answer to a query: 'ok' (default), 'hang', or an error to send back. */
  query?: (sql: string) => 'ok' | 'hang' | { code: number, message: string }
}

export interface FakeServer {
  url: string
  port: number
  /** Every query text received, in order. */
  queries: string[]
  /** Pings received. */
  pings: number
  resets: number
  behaviour: FakeServerBehaviour
  close: () => Promise<void>
}

const COM_RESET_CONNECTION = 0x1f
let nextId = 1000

export async function startFakeServer (behaviour: FakeServerBehaviour = {}): Promise<FakeServer> {
  const links = new Set<{ stream: Socket }>()
  const state: FakeServer = { url: '', port: 0, queries: [], pings: 0, resets: 0, behaviour, close: async () => {} }
  const server = mysql.createServer((conn) => {
    const c = conn as unknown as {
      stream: Socket
      serverHandshake: (o: object) => void
      on: (ev: string, fn: (...args: unknown[]) => void) => void
      writeOk: () => void
      writeError: (e: object) => void
    }
    links.add(c)
    c.stream.on('close', () => links.delete(c))
    c.stream.on('error', () => {})
    c.serverHandshake({
      protocolVersion: 10,
      serverVersion: '10.11.99-fake',
      connectionId: nextId++,
      statusFlags: 2,
      characterSet: 8,
      capabilityFlags: 0xffffff ^ (0x20 | 0x800)
    })
    c.on('ping', () => {
      state.pings++
      if (state.behaviour.ping !== false) c.writeOk()
    })
    c.on('packet', (_packet: unknown, _known: unknown, code: unknown) => {
      if (code !== COM_RESET_CONNECTION) return
      state.resets++
      if (state.behaviour.reset !== false) c.writeOk()
    })
    c.on('query', (sql: unknown) => {
      state.queries.push(String(sql))
      const answer = state.behaviour.query?.(String(sql)) ?? 'ok'
      if (answer === 'ok') c.writeOk()
      else if (answer !== 'hang') c.writeError(answer)
    })
    c.on('error', () => {})
  })
  await new Promise<void>((resolve) => (server as unknown as { listen: (p: number, h: string, cb: () => void) => void }).listen(0, '127.0.0.1', resolve))
  const tcp = (server as unknown as { _server: Server })._server
  const addr = tcp.address()
  state.port = typeof addr === 'object' && addr !== null ? addr.port : 0
  state.url = `mysql://root@127.0.0.1:${state.port}/test`
  state.close = () => new Promise<void>((resolve) => {
    for (const l of links) l.stream.destroy()
    tcp.close(() => resolve())
  })
  return state
}

/** A TCP server that accepts connections and never says a word (no handshake). */
export async function startSilentServer (): Promise<{ port: number, url: string, close: () => Promise<void> }> {
  const sockets = new Set<Socket>()
  const srv = createTcpServer((s) => {
    sockets.add(s)
    s.on('error', () => {})
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const addr = srv.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0
  return {
    port,
    url: `mysql://root@127.0.0.1:${port}/test`,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy()
      srv.close(() => resolve())
    })
  }
}
