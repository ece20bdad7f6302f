/**
 * A small TCP proxy in front of the database for network-fault tests. Modes, switchable at any
 * time and applied to live connections too:
 * - `pass`: forward both ways;
 * - `blackhole`: keep forwarding client→server but drop every server→client byte (a stalled
 *   link: the client waits for replies that never come);
 * - `{ latency: ms }`: delay every chunk, both ways, by `ms` (order kept);
 * - `reset`: the next server→client chunk is cut in half and both sockets are reset (RST)
 *   mid-packet; new connections are reset as soon as the server greets them.
 */
import net from 'node:net'

export type ProxyMode = 'pass' | 'blackhole' | 'reset' | { latency: number }

export interface TcpProxy {
  port: number
  /** `url` with host and port replaced by the proxy's. */
  urlFor: (url: string) => string
  setMode: (mode: ProxyMode) => void
  readonly mode: ProxyMode
  /** Client connections currently open through the proxy. */
  readonly open: number
  /** Client connections accepted since start. */
  readonly accepted: number
  /** Connections the proxy reset (mode `reset` or resetAll()). */
  readonly resets: number
  /** Resets every open connection now. */
  resetAll: () => void
  close: () => Promise<void>
}

interface Pair { client: net.Socket, upstream: net.Socket }

export async function startTcpProxy (target: { host: string, port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = 'pass'
  let accepted = 0
  let resets = 0
  const pairs = new Set<Pair>()

  function reset (pair: Pair): void {
    if (!pairs.delete(pair)) return
    resets++
    pair.client.resetAndDestroy()
    pair.upstream.resetAndDestroy()
  }

  function forward (pair: Pair, to: net.Socket, chunk: Buffer, fromServer: boolean): void {
    const m = mode
    if (m === 'pass') {
      to.write(chunk)
    } else if (typeof m === 'object') {
      setTimeout(() => { if (!to.destroyed) to.write(chunk) }, m.latency)
    } else if (m === 'blackhole') {
      if (!fromServer) to.write(chunk)
    } else if (fromServer) {
      // reset: half a packet reaches the client, then the link dies.
      to.write(chunk.subarray(0, Math.max(1, chunk.length >> 1)), () => reset(pair))
    } else {
      reset(pair)
    }
  }

  const server = net.createServer((client) => {
    accepted++
    const upstream = net.connect(target.port, target.host)
    const pair: Pair = { client, upstream }
    pairs.add(pair)
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    client.on('data', (chunk: Buffer) => forward(pair, upstream, chunk, false))
    upstream.on('data', (chunk: Buffer) => forward(pair, client, chunk, true))
    const end = (): void => {
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.on('error', end)
    upstream.on('error', end)
    client.on('close', end)
    upstream.on('close', end)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as net.AddressInfo).port

  return {
    port,
    urlFor (url: string): string {
      const u = new URL(url)
      u.hostname = '127.0.0.1'
      u.port = String(port)
      return u.toString()
    },
    setMode (m: ProxyMode): void { mode = m },
    get mode () { return mode },
    get open () { return pairs.size },
    get accepted () { return accepted },
    get resets () { return resets },
    resetAll (): void {
      for (const pair of [...pairs]) reset(pair)
    },
    close (): Promise<void> {
      for (const pair of [...pairs]) {
        pairs.delete(pair)
        pair.client.destroy()
        pair.upstream.destroy()
      }
      return new Promise((resolve) => server.close(() => resolve()))
    }
  }
}
