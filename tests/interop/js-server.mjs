// The sync server of @automerge/automerge-repo-sync-server (its src/server.js: a Repo with a
// WebSocket server adapter, file storage, sharePolicy false), on the current automerge-repo.
// The published sync-server 0.2.8 still runs automerge-repo 1.2 with automerge 2.2.
// Usage: PORT=N DATA_DIR=DIR node js-server.mjs   (prints "Listening on port N")
import { WebSocketServer } from "ws"
import { Repo } from "@automerge/automerge-repo"
import { WebSocketServerAdapter } from "@automerge/automerge-repo-network-websocket"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import http from "node:http"

const port = parseInt(process.env.PORT ?? "3030")
const server = http.createServer((req, res) => res.end("sync server is running\n"))
const wss = new WebSocketServer({ noServer: true })
server.on("upgrade", (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, (ws) => wss.emit("connection", ws, request))
})
new Repo({
  network: [new WebSocketServerAdapter(wss)],
  storage: new NodeFSStorageAdapter(process.env.DATA_DIR ?? ".amrg"),
  peerId: `sync-server-${port}`,
  sharePolicy: async () => false,
})
server.listen(port, "127.0.0.1", () => console.log(`Listening on port ${port}`))
