// The app's dedicated worker: it owns the core (WebAssembly), the store (SQLCipher in OPFS,
// written through synchronous access handles, which only a worker has) and the socket to the
// relay. The page asks it things by message (`Ask`) and hears how sync stands (`Status`).
// Every edit is saved in the store before the answer goes back: saved means saved.

import init, { eraseStorage, type JoinFlow, openStorage, WebDevice, type SyncSession } from "../pkg/groundwork_web.js";
import { forgetStoreKey, storeKey } from "./keys";
import type { Ask, Reply, Status } from "./protocol";

declare const self: DedicatedWorkerGlobalScope;

let device: WebDevice | null = null;
// The relay that served the app is the relay: its sync endpoint on the same origin.
const relay = `${self.location.origin.replace(/^http/, "ws")}/v1/sync`;

// --- sync: one socket, reopened with a growing wait when it fails, at once when asked ---

let socket: WebSocket | null = null;
let session: SyncSession | null = null;
let status: Status = { state: "offline", pending: null, unsent: 0, lastSynced: null, error: null };
let failures = 0;
/** Reopen at once after this close (a join: a fresh connection is offered the new group). */
let reopenAtOnce = false;
/** Set once everything was erased: no more connections. */
let erased = false;
let retry: ReturnType<typeof setTimeout> | null = null;

/** Contacts logged here that the relay does not have yet, in every group. */
function unsent(): number {
  if (!device) return 0;
  const groups = JSON.parse(device.groups()) as { group_id: string }[];
  return groups.reduce((n, g) => n + (device?.unsentContacts(g.group_id) ?? 0), 0);
}

function tell(next: Partial<Status>) {
  status = { ...status, ...next, unsent: unsent() };
  self.postMessage({ status });
  if (status.state === "connected") for (const ready of whenConnected.splice(0)) ready();
}

/** Callbacks waiting for the relay's handshake. */
const whenConnected: (() => void)[] = [];

/** A join waiting for the relay's answer. */
let joining: { flow: JoinFlow; id: number; resolve: (v: unknown) => void; reject: (e: Error) => void } | null = null;

function finishJoin() {
  if (!joining || !session || !device) return;
  const { flow, id, resolve, reject } = joining;
  try {
    const joined = session.finishJoin(flow, id, device);
    if (joined === undefined) return;
    joining = null;
    flow.free();
    resolve(JSON.parse(joined));
    // A fresh connection is offered everything of the new group (its plan, or its brief).
    reopenAtOnce = true;
    socket?.close();
  } catch (e) {
    joining = null;
    flow.free();
    reject(e instanceof Error ? e : new Error(String(e)));
  }
}

/** Connects now if not connected; whether the relay's handshake came within 20 s. */
async function reachRelay(): Promise<boolean> {
  failures = 0;
  connect();
  return new Promise<boolean>((resolve) => {
    if (status.state === "connected") return resolve(true);
    whenConnected.push(() => resolve(true));
    setTimeout(() => resolve(false), 20_000);
  });
}

/** Requests to the relay waiting for its answer, by id (on the current connection). */
const requests = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

function finishRequests() {
  if (!session) return;
  for (const [id, waiting] of requests) {
    try {
      const answer = session.answer(id);
      if (answer === undefined) continue;
      requests.delete(id);
      waiting.resolve(JSON.parse(answer));
    } catch (e) {
      requests.delete(id);
      waiting.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }
}

/** Asks the relay something only it can do (`send` makes the request); needs the network. */
async function request(send: (s: SyncSession) => number, needs: string): Promise<unknown> {
  if (!(await reachRelay()) || !session) throw new Error(needs);
  const id = send(session);
  const answered = new Promise((resolve, reject) => requests.set(id, { resolve, reject }));
  pump();
  return answered;
}

/** Redeems an invite at the relay: the one thing a canvasser needs the network for. */
async function join(link: string, name: string): Promise<unknown> {
  if (!device) throw new Error("the app is still starting");
  const flow = device.beginJoin(link, relay);
  if (!(await reachRelay()) || !session) {
    flow.free();
    throw new Error("Joining needs the network once: the relay could not be reached. Try again with a signal.");
  }
  const id = session.requestJoin(flow, name);
  const answered = new Promise((resolve, reject) => {
    joining = { flow, id, resolve, reject };
  });
  pump();
  return answered;
}

function pump() {
  if (!device || !session || !socket || socket.readyState !== WebSocket.OPEN) return;
  for (const frame of session.step(device)) socket.send(frame as Uint8Array<ArrayBuffer>);
  const report = JSON.parse(session.report()) as {
    ready: boolean;
    pending: number | null;
    wiped: string[];
    changed: string[];
  };
  if (report.ready && status.state !== "connected") {
    failures = 0;
    tell({ state: "connected", error: null });
  }
  if (report.pending !== null) {
    tell({ pending: report.pending, lastSynced: report.pending === 0 ? Date.now() : status.lastSynced });
  }
  finishJoin();
  finishRequests();
  // Removed by a lead: the core already deleted the group's data; with no group left, the
  // whole store goes, and the key that opened it. After this step, not inside it.
  if (report.wiped.length > 0) setTimeout(() => void removed(report.wiped), 0);
  if (report.wiped.length > 0 || report.changed.length > 0) {
    self.postMessage({ changed: report.changed, wiped: report.wiped });
  }
}

async function removed(groups: string[]) {
  if (!device || erased) return;
  const left = (JSON.parse(device.groups()) as unknown[]).length;
  if (left === 0) {
    erased = true;
    const ws = socket;
    socket = null;
    ws?.close();
    session?.free();
    session = null;
    device.free();
    device = null;
    eraseStorage();
    await forgetStoreKey();
  }
  self.postMessage({ removed: groups, erased: left === 0 });
}

function connect() {
  if (!device || socket || erased) return;
  if (retry) clearTimeout(retry);
  retry = null;
  tell({ state: "connecting" });
  let url: string;
  try {
    url = device.connectUrl(relay);
    session = device.startSync(relay);
  } catch (e) {
    tell({ state: "offline", error: String(e) });
    return;
  }
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  socket = ws;
  ws.onopen = () => pump();
  ws.onmessage = (event) => {
    if (!session || !(event.data instanceof ArrayBuffer)) return;
    session.receive(new Uint8Array(event.data));
    pump();
  };
  ws.onclose = (event) => {
    if (socket !== ws) return;
    if (session && device) {
      try {
        session.disconnect(device);
      } catch (e) {
        console.warn("saving the sync state failed", e);
      }
      session.free();
    }
    session = null;
    socket = null;
    // Their answers would have come on this connection: ask again on the next.
    for (const waiting of requests.values()) waiting.reject(new Error("The connection to the relay closed before it answered. Try again."));
    requests.clear();
    if (reopenAtOnce) {
      reopenAtOnce = false;
      connect();
      return;
    }
    failures += 1;
    const wait = Math.min(300_000, 1000 * 2 ** Math.min(failures - 1, 9)) * (0.5 + Math.random() / 2);
    tell({ state: "waiting", error: event.reason || null });
    retry = setTimeout(connect, wait);
  };
}

/** The sync work of the saves just answered, scheduled once for a burst of them. */
let afterSave: ReturnType<typeof setTimeout> | null = null;

/**
 * After a save (already durable in the store): hands the relay what was saved, if connected
 * (otherwise it waits for the next sync), and recounts what is not sent. Run after the answer
 * has gone back, so that Save is answered as soon as the store has it, not after a sync step.
 */
function saved() {
  if (afterSave) return;
  afterSave = setTimeout(() => {
    afterSave = null;
    tell({});
    if (session && device && socket?.readyState === WebSocket.OPEN) {
      session.pushLocal(device);
      pump();
    }
  }, 0);
}

self.addEventListener("online", () => {
  failures = 0;
  connect();
});

// --- the page's questions ---

async function boot(name: string) {
  await init({ module_or_path: new URL("groundwork_web_bg.wasm", self.location.href) });
  await openStorage();
  device = WebDevice.open(await storeKey(), name);
  setInterval(() => {
    session?.tick();
    pump();
  }, 1000);
  connect();
  return { deviceId: device.deviceId() };
}

function answer(ask: Ask): unknown | Promise<unknown> {
  if (!device) throw new Error("the app is still starting");
  switch (ask.op) {
    case "groups":
      return JSON.parse(device.groups());
    case "createGroup": {
      const id = device.createGroup(ask.name, ask.lead, ask.zone);
      saved();
      return id;
    }
    case "logContact": {
      const id = device.logContact(ask.group, JSON.stringify(ask.contact));
      saved();
      return id;
    }
    case "contacts":
      return JSON.parse(device.contacts(ask.group, ask.after ?? "", ask.limit ?? 50));
    case "meetings":
      return JSON.parse(device.meetings(ask.group));
    case "meeting":
      return JSON.parse(device.meeting(ask.meeting));
    case "createMeeting": {
      const id = device.createMeeting(ask.group, ask.title, ask.at, ask.location, ask.canvassers);
      saved();
      return id;
    }
    case "addAgendaItem": {
      const id = device.addAgendaItem(ask.meeting, ask.text);
      saved();
      return id;
    }
    case "appendNotes":
      device.appendNotes(ask.meeting, ask.text);
      saved();
      return null;
    case "targets":
      return JSON.parse(device.targets(ask.group));
    case "scorecard":
      return JSON.parse(device.scorecard(ask.group));
    case "recordResponse":
      device.recordResponse(ask.group, ask.target, ask.rule, ask.position, ask.existing, ask.conditions);
      saved();
      return null;
    case "boards":
      return JSON.parse(device.boards());
    case "rules":
      return JSON.parse(WebDevice.rules());
    case "actions":
      return JSON.parse(device.actions(ask.group));
    case "addAction": {
      const id = device.addAction(ask.group, ask.title, ask.assignee, ask.due);
      saved();
      return id;
    }
    case "setActionDone":
      device.setActionDone(ask.action, ask.done);
      saved();
      return null;
    case "members":
      return JSON.parse(device.members(ask.group));
    case "createInvite":
      return JSON.parse(device.createInvite(ask.group, ask.role, ask.uses, ask.days, relay));
    case "contactsCsv":
      return JSON.parse(device.contactsCsv(ask.group));
    case "removeMember":
      return request(
        (s) => s.removeMember(ask.group, ask.device),
        "Removing a member needs the network: the relay could not be reached. Try again with a signal.",
      );
    case "leads":
      return JSON.parse(device.leads(ask.group));
    case "invite": {
      const flow = device.beginJoin(ask.link, relay);
      try {
        return JSON.parse(flow.describe());
      } finally {
        flow.free();
      }
    }
    case "join":
      return join(ask.link, ask.name);
    case "status":
      return status;
    case "syncNow":
      failures = 0;
      connect();
      return status;
    default:
      throw new Error(`unknown request ${(ask as { op: string }).op}`);
  }
}

self.onmessage = async (event: MessageEvent<{ id: number; ask: Ask }>) => {
  const { id, ask } = event.data;
  let reply: Reply;
  try {
    const value = ask.op === "boot" ? await boot(ask.name) : await answer(ask);
    reply = { id, ok: true, value };
  } catch (e) {
    reply = { id, ok: false, error: e instanceof Error ? e.message : String(e) };
  }
  self.postMessage(reply);
};
