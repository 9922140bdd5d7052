// Wire-compatibility proof: the stock JavaScript automerge-repo client (with its
// stock WebSocket adapter) syncs with the Fieldvisit sync server (Rust, samod).
// It reads a case document, edits person.key_details, waits until the server
// acknowledges the change, then checks from a fresh connection that the edit
// was stored.
//
// Usage: node interop.mjs <base_url> <device_token> <peer_id> <case_document_id> <marker> <actor_hex> <protocol>
// The server accepts a device's changes only under the automerge actor bound
// to it at enrolment, so the client writes as <actor_hex>.
// Exit codes: 0 success, 1 failure, 2 timeout (20 s overall).

import * as A from "@automerge/automerge"
import { Repo } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"

const [base, token, peerId, docId, marker, actor, protocol] = process.argv.slice(2)
if (!protocol) {
  console.error("usage: node interop.mjs <base_url> <device_token> <peer_id> <case_document_id> <marker> <actor_hex> <protocol>")
  process.exit(1)
}

let phase = "starting"
setTimeout(() => {
  console.error(`interop timeout: no result within 20 s (while ${phase})`)
  process.exit(2)
}, 20_000).unref()

function fail(message) {
  console.error(`interop failed: ${message}`)
  process.exit(1)
}

// Buys a single-use sync ticket and opens a repo (no storage) bound to peerId.
async function connect() {
  const res = await fetch(`${base}/api/sync/ticket`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Fieldvisit-Protocol": protocol },
  })
  const body = await res.text()
  if (!res.ok) {
    console.error(body)
    fail(`ticket request returned HTTP ${res.status}`)
  }
  const { ticket } = JSON.parse(body)
  const wsUrl = new URL(`/sync?ticket=${encodeURIComponent(ticket)}`, base)
  wsUrl.protocol = wsUrl.protocol === "https:" ? "wss:" : "ws:"
  return new Repo({ network: [new WebSocketClientAdapter(wsUrl.href)], peerId, storage: undefined })
}

// Resolves once the server sends a sync message for docId whose heads include
// all of `heads`, i.e. the server has applied our change.
function serverHas(repo, heads) {
  return new Promise(resolve => {
    const onMessage = msg => {
      if (msg.type !== "sync" || msg.documentId !== docId) return
      const theirs = A.decodeSyncMessage(msg.data).heads
      if (heads.every(h => theirs.includes(h))) {
        repo.networkSubsystem.off("message", onMessage)
        resolve()
      }
    }
    repo.networkSubsystem.on("message", onMessage)
  })
}

try {
  // 1. Read and edit.
  phase = "reading the case document"
  const repo = await connect()
  const handle = await repo.find(`automerge:${docId}`)
  const doc = handle.doc()
  // Rust `String` fields are automerge scalar strings: ImmutableString in JS.
  const str = v => (A.isImmutableString(v) ? v.val : v)
  const reference = str(doc.reference)
  const caseId = str(doc.case_id)
  console.log(JSON.stringify({ reference, case_id: caseId }))
  if (typeof reference !== "string" || typeof caseId !== "string") {
    fail("document lacks string fields reference and case_id")
  }

  phase = "waiting for the server to acknowledge the change"
  // The reply arrives asynchronously, so listening right after change() is safe.
  handle.update(d => A.clone(d, { actor }))
  handle.change(d => A.splice(d, ["person", "key_details"], 0, 0, `${marker} `))
  await serverHas(repo, A.getHeads(handle.doc()))
  await repo.shutdown()

  // 2. Verify from a fresh connection (new ticket, same peer id, empty repo).
  phase = "verifying from a fresh connection"
  const check = await connect()
  const fresh = (await check.find(`automerge:${docId}`)).doc()
  const details = fresh.person?.key_details ?? ""
  await check.shutdown()
  if (!details.startsWith(`${marker} `)) {
    fail(`key_details does not start with the marker: ${JSON.stringify(details)}`)
  }
  console.log(JSON.stringify({ verified: true, key_details: details }))
  process.exit(0)
} catch (err) {
  fail(err?.message ?? String(err))
}
