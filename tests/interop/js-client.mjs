// Two JavaScript automerge-repo clients, each with a token minted for a Groundwork device,
// sync a group's plan through the relay: the first adds a field, the second sees it and adds
// to it, and the first sees that.
// Usage: node js-client.mjs URL_A URL_B DOCUMENT_ID   (URLs carry ?token=; prints one JSON line)
import { Repo } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"

const [urlA, urlB, documentId] = process.argv.slice(2)
const limit = Number(process.env.INTEROP_DEADLINE_MS ?? 30_000)
const deadline = Date.now() + limit
const fail = (why) => {
  console.log(JSON.stringify({ ok: false, why }))
  process.exit(1)
}
setTimeout(() => fail("timed out"), limit).unref()

// find() rejects while the relay says doc-unavailable (before the connection is up, say);
// asking again is the documented way.
const find = async (repo, ready) => {
  for (;;) {
    try {
      const h = await repo.find(`automerge:${documentId}`)
      if (ready(h.doc())) return h
    } catch (e) {
      if (Date.now() > deadline) fail(`find: ${e}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
}
const until = (handle, ready) =>
  new Promise((resolve) => {
    const check = () => {
      if (ready(handle.doc())) resolve(handle.doc())
    }
    handle.on("change", check)
    check()
  })

const a = new Repo({ network: [new WebSocketClientAdapter(urlA)] })
const b = new Repo({ network: [new WebSocketClientAdapter(urlB)] })
const ha = await find(a, (d) => d?.profile)
ha.change((d) => {
  d.interop = ["one"]
})
const hb = await find(b, (d) => d?.profile)
await until(hb, (d) => d?.interop?.length === 1)
hb.change((d) => {
  d.interop.push("two")
})
const final = await until(ha, (d) => d?.interop?.length === 2)
console.log(JSON.stringify({ ok: true, doc: { group_id: final.group_id, interop: final.interop } }))
process.exit(0)
