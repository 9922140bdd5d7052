// A phone's one link to the server, between the browser and the real server
// process on 127.0.0.1: every connection the page and its service worker
// open goes through it, shares its download rate and waits its latency, and
// every byte is counted. Chromium's own network emulation throttles the page
// but not its service worker, so it cannot show the two competing.
import { createServer, connect } from 'node:net';

/**
 * Starts a link to `target` (an http://127.0.0.1:PORT URL).
 * `downBytesPerSecond`: the download rate all connections share (Infinity:
 * unthrottled). `rttMs`: the round trip, half each way.
 * Returns { url, stats: { down, up, connections }, close() }.
 */
export async function startLink(target, { downBytesPerSecond = Infinity, rttMs = 0 } = {}) {
  const { hostname, port } = new URL(target);
  const stats = { down: 0, up: 0, connections: 0 };
  const sockets = new Set();
  // When the shared downlink is next free (ms since the epoch).
  let downFree = 0;
  const oneWay = rttMs / 2;

  // Delivers `chunk` to `to` at time `at`, in order per direction: a later
  // chunk is never due before an earlier one.
  const later = (queue, to, at, chunk) => {
    queue.at = Math.max(queue.at, at);
    const due = queue.at;
    setTimeout(() => {
      if (chunk === null) to.end(); else if (!to.destroyed) to.write(chunk);
    }, Math.max(0, due - Date.now()));
  };

  const server = createServer(browser => {
    stats.connections += 1;
    const upstream = connect(Number(port), hostname);
    sockets.add(browser);
    sockets.add(upstream);
    const up = { at: 0 };
    const down = { at: 0 };
    browser.on('data', chunk => {
      stats.up += chunk.length;
      later(up, upstream, Date.now() + oneWay, chunk);
    });
    upstream.on('data', chunk => {
      stats.down += chunk.length;
      const now = Date.now();
      if (Number.isFinite(downBytesPerSecond)) {
        downFree = Math.max(downFree, now) + (chunk.length * 1000) / downBytesPerSecond;
        later(down, browser, downFree + oneWay, chunk);
      } else {
        later(down, browser, now + oneWay, chunk);
      }
    });
    browser.on('end', () => later(up, upstream, Date.now() + oneWay, null));
    upstream.on('end', () => later(down, browser, Math.max(downFree, Date.now()) + oneWay, null));
    const gone = () => {
      browser.destroy();
      upstream.destroy();
      sockets.delete(browser);
      sockets.delete(upstream);
    };
    browser.on('error', gone);
    upstream.on('error', gone);
    browser.on('close', () => setTimeout(gone, oneWay));
    upstream.on('close', () => setTimeout(gone, Math.max(0, downFree - Date.now()) + oneWay));
  });
  await new Promise(ok => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stats,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise(ok => server.close(ok));
    },
  };
}
