// A stock JavaScript automerge-repo client, with a token acting for a lead's device, writes
// documents with JavaScript's default types (every string a text object, whole numbers
// signed integers): a meeting and a target added to the group's plan, and a new contacts
// document. A contacts document with a result code that does not exist is sent too, and must be
// refused. A second client, with no storage of its own, then fetches what the relay kept.
// Usage: node js-documents.mjs URL_WITH_TOKEN GROUP_ID DEVICE_ID   (prints one JSON line)
import { Repo } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"

const [url, groupId, device] = process.argv.slice(2)
const limit = Number(process.env.INTEROP_DEADLINE_MS ?? 30_000)
const deadline = Date.now() + limit
const fail = (why) => {
  console.log(JSON.stringify({ ok: false, why }))
  process.exit(1)
}
setTimeout(() => fail("timed out"), limit).unref()

// find() rejects while the relay says doc-unavailable; asking again is the documented way.
const find = async (repo, id, ready) => {
  for (;;) {
    try {
      const h = await repo.find(`automerge:${id}`)
      if (ready(h.doc())) return h
    } catch (e) {
      if (Date.now() > deadline) fail(`find ${id}: ${e}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
}

const now = Date.now()
const writer = new Repo({ network: [new WebSocketClientAdapter(url)] })
const plan = await find(writer, groupId, (d) => d?.profile)
plan.change((d) => {
  d.targets["js-target"] = {
    id: "js-target",
    name: "Chief From JavaScript",
    title: "Police Chief",
    level: "city",
  }
  d.meetings["js-meeting"] = {
    id: "js-meeting",
    kind: "organizing",
    title: "Planned in JavaScript",
    at: now + 86_400_000,
    status: "scheduled",
    attendees: ["Ana", "Ben"],
    notes: "Bring the model rules",
    created_at: now,
  }
})
const bad = writer.create({
  schema: 1,
  group_id: groupId,
  canvasser: device,
  period: "2026-02",
  contacts: { "js-bad": { id: "js-bad", at: now, canvasser: device, result: "banana" } },
})
const good = writer.create({
  schema: 1,
  group_id: groupId,
  canvasser: device,
  period: "2026-01",
  contacts: {
    "js-contact": {
      id: "js-contact",
      at: now,
      canvasser: device,
      place: "Oak St 1-99",
      result: "talked",
      support: 4,
      interests: ["attend", "volunteer"],
      follow_up: true,
      note: "Written by JavaScript",
    },
  },
})

// A fresh client fetches from the relay what the writer sent: the relay kept it.
const reader = new Repo({ network: [new WebSocketClientAdapter(url)] })
await find(reader, good.documentId, (d) => d?.contacts?.["js-contact"])
await find(reader, groupId, (d) => d?.meetings?.["js-meeting"] && d?.targets?.["js-target"])
console.log(JSON.stringify({ ok: true, good: good.documentId, bad: bad.documentId }))
process.exit(0)
