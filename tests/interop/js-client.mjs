// Two JavaScript automerge-repo clients sync one document through a relay: the first creates
// and edits it, the second finds it, edits it, and the first sees that edit.
// Usage: node js-client.mjs ws://127.0.0.1:PORT/v1/sync   (prints one JSON line; exit 0 = ok)
import { Repo } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"

const url = process.argv[2]
const deadline = Date.now() + 30_000
const fail = (why) => {
  console.log(JSON.stringify({ ok: false, why }))
  process.exit(1)
}
setTimeout(() => fail("timed out"), 30_000).unref()

const a = new Repo({ network: [new WebSocketClientAdapter(url)] })
const created = a.create({ title: "from javascript" })
created.change((d) => {
  d.items = ["one"]
})

// The relay answers doc-unavailable until the first client's upload lands; automerge-repo
// then rejects find(), and a new find() is the documented way to ask again.
const b = new Repo({ network: [new WebSocketClientAdapter(url)] })
let found
while (!found) {
  try {
    const h = await b.find(created.url)
    if (h.doc()?.items?.length) found = h
  } catch (e) {
    if (Date.now() > deadline) fail(`find: ${e}`)
  }
  if (!found) await new Promise((r) => setTimeout(r, 100))
}

const seenByA = new Promise((resolve) => {
  const check = () => {
    if (created.doc().items.length === 2) resolve(created.doc())
  }
  created.on("change", check)
  check()
})
found.change((d) => {
  d.items.push("two")
})
const final = await seenByA
console.log(JSON.stringify({ ok: true, url: created.url, doc: final }))
process.exit(0)
